//! The operations run on an open store: free functions a node calls from
//! its request handlers, and [`LocalLedger`], the [`Ledger`] the CLI uses
//! when no node owns the ledger.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use super::import::{ExportFile, ImportPlan};
use super::mining_run::{self, Settings};
use super::views::*;
use super::{ApiError, BlockRef, IdPrefix, Ledger, MineHooks, MineRequest, TxRef, TxsOf};
use crate::bounds;
use crate::consensus::Transaction;
use crate::export::to_line;
use crate::store::{Store, StoreError, TxStatus};
use crate::time::now_ms;

pub fn submit(store: &Store, author: &str, data: Vec<u8>) -> Result<SubmitView, ApiError> {
    submit_entry(store, author, data).map(|(v, _)| v)
}

/// [`submit`], also returning the entry recorded (which a node gossips).
pub fn submit_entry(
    store: &Store,
    author: &str,
    data: Vec<u8>,
) -> Result<(SubmitView, Transaction), ApiError> {
    submit_tx(store, Transaction::new(author, now_ms(), data)?)
}

/// Records an entry as it is (a signed one keeps its own timestamp), and
/// returns it as recorded.
pub fn submit_tx(store: &Store, tx: Transaction) -> Result<(SubmitView, Transaction), ApiError> {
    let txid = store.submit(&tx)?;
    let view = SubmitView {
        txid,
        status: TxState::Pending,
    };
    Ok((view, tx))
}

pub fn pending(store: &Store, from: u64, limit: usize) -> Result<PendingView, ApiError> {
    bounds::page(limit)?;
    let total = store.state()?.pending;
    let mut rows = Vec::new();
    let mut next = None;
    for (shown, item) in store.pending_from(from).enumerate() {
        let (seq, tx) = item?;
        if shown == limit {
            next = Some(seq);
            break;
        }
        rows.push(PendingRow {
            tx: TxFields::new(&tx),
            seq,
        });
    }
    Ok(PendingView {
        pending_count: total,
        transactions: rows,
        next_from: next,
    })
}

/// How many matches the message for an ambiguous id prefix lists.
const SHOWN_MATCHES: usize = 8;

pub fn block(store: &Store, r: BlockRef) -> Result<BlockView, ApiError> {
    let hash = match r {
        BlockRef::Height(h) => return Ok(BlockView::new(&store.block_at(h)?)),
        BlockRef::Tip => store.state()?.tip,
        BlockRef::Hash(h) => h,
        BlockRef::Prefix(p) => {
            let found = store.blocks_with_prefix(&p, SHOWN_MATCHES + 1)?;
            match found.as_slice() {
                [one] => *one,
                [] => return Err(no_block(store, &p)?),
                many => return Err(ambiguous("block hash", &p, many)),
            }
        }
    };
    match store.block(&hash)? {
        Some(b) => Ok(BlockView::new(&b)),
        None => Err(no_block(store, &IdPrefix::of(hash.as_bytes()))?),
    }
}

/// No block matches `p`: says so, and whether a transaction id does.
fn no_block(store: &Store, p: &IdPrefix) -> Result<ApiError, ApiError> {
    let hint = match store.txids_with_prefix(p, 1)?.first() {
        Some(_) if p.is_whole() => format!("; it is a transaction id: sledger tx {p}"),
        Some(id) => format!("; transaction {id} does: sledger tx {p}"),
        None => String::new(),
    };
    let what = match p.is_whole() {
        true => format!("no block with hash {p}"),
        false => format!("no block hash starts with {p}"),
    };
    Ok(ApiError::NotFound(format!("{what}{hint}")))
}

/// No transaction matches `p`: says so, and whether a block hash does.
fn no_tx(store: &Store, p: &IdPrefix) -> Result<ApiError, ApiError> {
    let hint = match store.blocks_with_prefix(p, 1)?.first() {
        Some(_) if p.is_whole() => format!("; it is a block hash: sledger block {p}"),
        Some(h) => format!("; block {h} does: sledger block {p}"),
        None => String::new(),
    };
    let what = match p.is_whole() {
        true => format!("no transaction with id {p}"),
        false => format!("no transaction id starts with {p}"),
    };
    Ok(ApiError::NotFound(format!("{what}{hint}")))
}

fn ambiguous(what: &str, p: &IdPrefix, many: &[impl std::fmt::Display]) -> ApiError {
    let listed: Vec<String> = many
        .iter()
        .take(SHOWN_MATCHES)
        .map(|m| m.to_string())
        .collect();
    let more = if many.len() > SHOWN_MATCHES {
        ", ..."
    } else {
        ""
    };
    let count = match many.len() > SHOWN_MATCHES {
        true => format!("more than {SHOWN_MATCHES}"),
        false => many.len().to_string(),
    };
    ApiError::BadRequest(format!(
        "ambiguous {what} prefix {p}: {count} match ({}{more}); give more digits",
        listed.join(", ")
    ))
}

pub fn chain(store: &Store, from: Option<u64>, limit: usize) -> Result<ChainView, ApiError> {
    bounds::page(limit)?;
    let state = store.state()?;
    let tip = state.height;
    let from = from.unwrap_or(tip);
    if from > tip {
        return Err(StoreError::NoSuchHeight { height: from, tip }.into());
    }
    let to = (from + 1).saturating_sub(limit as u64);
    let mut rows = Vec::new();
    if limit > 0 {
        for item in store.headers_in(to, from, true) {
            let (hash, record) = item?;
            rows.push(BlockSummary::new(&hash, &record));
        }
    }
    Ok(ChainView {
        tip: TipRef {
            height: tip,
            hash: state.tip,
            timestamp: None,
        },
        blocks: rows,
        next_from: (limit > 0 && to > 0).then(|| to - 1),
    })
}

pub fn tips(store: &Store) -> Result<TipsView, ApiError> {
    Ok(TipsView {
        tips: store.tips()?.iter().map(TipRow::new).collect(),
    })
}

pub fn tx(store: &Store, r: &TxRef) -> Result<TxView, ApiError> {
    let txid = match r {
        TxRef::Id(id) => *id,
        TxRef::Prefix(p) => {
            let found = store.txids_with_prefix(p, SHOWN_MATCHES + 1)?;
            match found.as_slice() {
                [one] => *one,
                [] => return Err(no_tx(store, p)?),
                many => return Err(ambiguous("transaction id", p, many)),
            }
        }
    };
    let Some(found) = store.find_tx(&txid)? else {
        return Err(no_tx(store, &IdPrefix::of(txid.as_bytes()))?);
    };
    Ok(match found {
        TxStatus::Confirmed {
            tx,
            block,
            height,
            index,
        } => TxView {
            tx: TxFields::new(&tx),
            status: TxState::Confirmed,
            block: Some(block),
            height: Some(height),
            index: Some(index),
            seq: None,
        },
        TxStatus::Pending { tx, seq } => TxView {
            tx: TxFields::new(&tx),
            status: TxState::Pending,
            block: None,
            height: None,
            index: None,
            seq: Some(seq),
        },
    })
}

pub fn txs(store: &Store, of: &TxsOf, from: (u64, u32), limit: usize) -> Result<TxsView, ApiError> {
    bounds::page(limit)?;
    let (names, key) = match of {
        TxsOf::Author(a) => (vec![a.clone()], None),
        TxsOf::Key(k) => (store.names_of_key(k)?, Some(*k)),
    };
    // Up to one more row than asked, from each name, merged in chain order.
    let mut rows = Vec::new();
    for name in &names {
        let mut taken = 0;
        for item in store.txs_by_author(name, from) {
            let (height, index, txid) = item?;
            let Some(TxStatus::Confirmed { tx, block, .. }) = store.find_tx(&txid)? else {
                return Err(StoreError::Corrupt(format!(
                    "the author index names {txid}, which is not in the chain"
                ))
                .into());
            };
            if key.is_some() && tx.signed().map(|s| s.key) != key {
                continue;
            }
            rows.push(AuthorTxRow {
                tx: TxFields::new(&tx),
                height,
                index,
                block,
            });
            taken += 1;
            if taken > limit {
                break;
            }
        }
    }
    rows.sort_by_key(|r| (r.height, r.index));
    let next = rows.get(limit).map(|r| format!("{}.{}", r.height, r.index));
    rows.truncate(limit);
    Ok(TxsView {
        author: match of {
            TxsOf::Author(a) => Some(a.clone()),
            TxsOf::Key(_) => None,
        },
        key,
        transactions: rows,
        next_from: next,
    })
}

pub fn status(store: &Store) -> Result<StatusView, ApiError> {
    let s = store.state()?;
    let (_, tip) = store.header_at(s.height)?;
    let next = store.parent_info(&s)?.next_difficulty;
    let p = store.params();
    Ok(StatusView {
        data_dir: store.data_dir().to_path_buf(),
        name: p.name.clone(),
        genesis: store.genesis_hash(),
        schema_version: store.schema_version()?,
        tip: TipRef {
            height: s.height,
            hash: s.tip,
            timestamp: Some(tip.timestamp),
        },
        chain_work: s.chain_work.to_string(),
        next_difficulty: next.0,
        block_count: s.height + 1,
        transaction_count: s.chain_txs,
        pending_count: s.pending,
        disk_bytes: store.size_on_disk()?,
        tips: tips(store)?.tips,
        orphan_count: store.orphan_count()?,
        params: ParamsView::new(p),
        node: None,
    })
}

pub fn verify(store: &Store, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyView, ApiError> {
    let tip = store.state()?.height;
    Ok(
        match store.verify(now_ms(), &mut |h| progress(h + 1, tip + 1)) {
            Ok(r) => VerifyView {
                valid: true,
                block_count: Some(r.blocks),
                transaction_count: Some(r.transactions),
                pending_count: Some(r.pending),
                tip: Some(TipRef {
                    height: r.blocks.saturating_sub(1),
                    hash: r.tip,
                    timestamp: None,
                }),
                chain_work: Some(r.chain_work.to_string()),
                height: None,
                reason: None,
            },
            Err(f) => VerifyView {
                valid: false,
                block_count: None,
                transaction_count: None,
                pending_count: None,
                tip: None,
                chain_work: None,
                height: f.height,
                reason: Some(f.reason),
            },
        },
    )
}

/// Writes every block of the active chain from height `from` as an
/// export line.
pub fn export(store: &Store, from: u64, out: &mut dyn Write) -> Result<u64, ApiError> {
    let tip = store.state()?.height;
    if from > tip {
        return Err(StoreError::NoSuchHeight { height: from, tip }.into());
    }
    let mut n = 0u64;
    for b in store.blocks_from(from) {
        writeln!(out, "{}", to_line(&b?.block)).map_err(ApiError::export_write)?;
        n += 1;
    }
    out.flush().map_err(ApiError::export_write)?;
    Ok(n)
}

/// A ledger this process opened.
pub struct LocalLedger {
    pub store: Store,
    /// The schema version the store had before it was opened.
    pub opened_at_version: u32,
}

impl LocalLedger {
    pub fn new(store: Store, opened_at_version: u32) -> Self {
        LocalLedger {
            store,
            opened_at_version,
        }
    }
}

impl Ledger for LocalLedger {
    fn submit(&self, author: &str, data: Vec<u8>) -> Result<SubmitView, ApiError> {
        submit(&self.store, author, data)
    }
    fn submit_signed(&self, tx: &Transaction) -> Result<SubmitView, ApiError> {
        submit_tx(&self.store, tx.clone()).map(|(v, _)| v)
    }
    fn pending(&self, from: u64, limit: usize) -> Result<PendingView, ApiError> {
        pending(&self.store, from, limit)
    }
    fn block(&self, r: BlockRef) -> Result<BlockView, ApiError> {
        block(&self.store, r)
    }
    fn chain(&self, from: Option<u64>, limit: usize) -> Result<ChainView, ApiError> {
        chain(&self.store, from, limit)
    }
    fn tips(&self) -> Result<TipsView, ApiError> {
        tips(&self.store)
    }
    fn tx(&self, r: &TxRef) -> Result<TxView, ApiError> {
        tx(&self.store, r)
    }
    fn txs(&self, of: &TxsOf, from: (u64, u32), limit: usize) -> Result<TxsView, ApiError> {
        txs(&self.store, of, from, limit)
    }
    fn status(&self) -> Result<StatusView, ApiError> {
        status(&self.store)
    }
    fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyView, ApiError> {
        verify(&self.store, progress)
    }
    fn export(&self, from: u64, out: &mut dyn Write) -> Result<u64, ApiError> {
        export(&self.store, from, out)
    }
    fn import(&self, file: &ExportFile) -> Result<ImportView, ApiError> {
        ImportPlan::check(&self.store, file.clone(), now_ms())?.apply()
    }
    fn mine(
        &self,
        req: &MineRequest,
        stop: &AtomicBool,
        hooks: MineHooks<'_>,
    ) -> Result<MineSummary, ApiError> {
        mining_run::run(
            &self.store,
            &Settings::new(req)?,
            mining_run::Control {
                stop,
                restart: stop,
                new_entries: None,
                append_lock: None,
            },
            hooks,
        )
    }
    fn schema_versions(&self) -> Result<(u32, u32), ApiError> {
        Ok((self.opened_at_version, self.store.schema_version()?))
    }
    fn is_remote(&self) -> bool {
        false
    }
}
