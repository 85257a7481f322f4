//! How results look: one function per kind of result, each producing either
//! text for people or a JSON value for programs.

use serde_json::{json, Value};

use crate::consensus::{BlockHash, Transaction};
use crate::export::{BlockLine, TxJson};
use crate::store::schema::HeaderRecord;
use crate::store::StoredBlock;
use crate::time::format_ms;

/// Prints a JSON value on one line.
pub fn print_json(v: &Value) {
    println!("{v}");
}

/// A short, single-line, printable preview of entry data.
pub fn preview(data: &[u8], max: usize) -> String {
    match std::str::from_utf8(data) {
        Ok(s) => {
            let clean: String = s
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if clean.chars().count() > max {
                format!("{:?}…", clean.chars().take(max).collect::<String>())
            } else {
                format!("{clean:?}")
            }
        }
        Err(_) => format!("<{} bytes of binary data>", data.len()),
    }
}

pub fn block_json(b: &StoredBlock) -> Value {
    let mut v = serde_json::to_value(BlockLine::new(&b.block)).expect("plain data");
    v["height"] = json!(b.record.height);
    v["chain_work"] = json!(b.record.chain_work.to_string());
    v["size"] = json!(b.record.size);
    v["active"] = json!(b.active);
    v
}

pub fn block_text(b: &StoredBlock) -> String {
    let h = &b.block.header;
    let mut out = format!(
        "block {} {}{}\n  previous    {}\n  merkle root {}\n  time        {}\n  difficulty  {} bits   nonce {}\n  chain work  {}\n  size        {} bytes, {} transaction(s)\n",
        h.height,
        b.hash,
        if b.active { "" } else { " (not on the active chain)" },
        h.prev_hash,
        h.merkle_root,
        format_ms(h.timestamp),
        h.difficulty,
        h.nonce,
        b.record.chain_work,
        b.record.size,
        b.block.txs.len(),
    );
    for tx in &b.block.txs {
        out.push_str(&format!(
            "    {} {} {}\n",
            tx.txid(),
            tx.author(),
            preview(tx.data(), 60)
        ));
    }
    out
}

pub fn header_line(hash: &BlockHash, r: &HeaderRecord) -> String {
    format!(
        "{:>8}  {}  {}  {:>3} bits  {} tx",
        r.height,
        hash,
        format_ms(r.timestamp),
        r.difficulty,
        r.tx_count
    )
}

pub fn header_json(hash: &BlockHash, r: &HeaderRecord) -> Value {
    json!({
        "height": r.height,
        "hash": hash,
        "prev_hash": r.prev_hash,
        "timestamp": r.timestamp,
        "difficulty": r.difficulty,
        "tx_count": r.tx_count,
        "size": r.size,
        "chain_work": r.chain_work.to_string(),
    })
}

pub fn tx_json(tx: &Transaction) -> Value {
    serde_json::to_value(TxJson::new(tx)).expect("plain data")
}

pub fn tx_text(tx: &Transaction) -> String {
    format!(
        "transaction {}\n  author    {}\n  time      {}\n  data      {} ({} bytes)\n",
        tx.txid(),
        tx.author(),
        format_ms(tx.timestamp()),
        preview(tx.data(), 200),
        tx.data().len()
    )
}
