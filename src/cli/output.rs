//! How results look: each document of [`crate::api::views`] printed as
//! JSON for programs (`--json`) or as text for people. The text is drawn
//! from the document alone, so it is the same whether the document came
//! from the store or from a node.

use serde::Serialize;

use crate::api::views::*;
use crate::time::format_ms;

/// Prints a document as JSON on one line.
pub fn print_json<T: Serialize + ?Sized>(v: &T) {
    match serde_json::to_string(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("sledger: cannot print the result as JSON: {e}"),
    }
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

/// log2 of a decimal work figure, for "about 2^N hashes".
pub fn work_log2(decimal: &str) -> f64 {
    decimal.parse::<f64>().map_or(0.0, f64::log2)
}

pub fn block_text(b: &BlockView) -> String {
    let h = &b.header;
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
        b.chain_work,
        b.size,
        b.txs.len(),
    );
    for tx in &b.txs {
        out.push_str(&format!(
            "    {} {} {}\n",
            tx.txid,
            tx.author,
            preview(&tx.data_bytes(), 60)
        ));
    }
    out
}

pub fn header_line(r: &HeaderRow) -> String {
    format!(
        "{:>8}  {}  {}  {:>3} bits  {} tx",
        r.height,
        r.hash,
        format_ms(r.timestamp),
        r.difficulty,
        r.tx_count
    )
}

pub fn chain_text(c: &ChainView) -> String {
    let mut out = String::new();
    for r in &c.blocks {
        out.push_str(&header_line(r));
        out.push('\n');
    }
    if let Some(n) = c.next_from {
        out.push_str(&format!("(more: --from {n})\n"));
    }
    out
}

pub fn tip_line(t: &TipRow) -> String {
    format!(
        "{:>8}  {}  work {} (2^{:.1}){}",
        t.height,
        t.hash,
        t.chain_work,
        work_log2(&t.chain_work),
        if t.active { "  active" } else { "" }
    )
}

pub fn tips_text(t: &TipsView) -> String {
    t.tips.iter().map(|t| tip_line(t) + "\n").collect()
}

pub fn tx_text(tx: &TxFields) -> String {
    let data = tx.data_bytes();
    format!(
        "transaction {}\n  author    {}\n  time      {}\n  data      {} ({} bytes)\n",
        tx.txid,
        tx.author,
        format_ms(tx.timestamp),
        preview(&data, 200),
        data.len()
    )
}

pub fn tx_view_text(v: &TxView) -> String {
    let mut out = tx_text(&v.tx);
    match (v.status, v.block, v.height, v.index, v.seq) {
        (TxState::Confirmed, Some(block), Some(height), Some(index), _) => out.push_str(&format!(
            "  status    in block {height} {block}, position {index}\n"
        )),
        (_, _, _, _, Some(seq)) => out.push_str(&format!("  status    pending (arrival #{seq})\n")),
        _ => out.push_str("  status    pending\n"),
    }
    out
}

pub fn pending_text(p: &PendingView) -> String {
    let mut out = String::new();
    for r in &p.transactions {
        out.push_str(&format!(
            "#{:<6} {} {} {} {}\n",
            r.seq,
            r.tx.txid,
            format_ms(r.tx.timestamp),
            r.tx.author,
            preview(&r.tx.data_bytes(), 40)
        ));
    }
    if let Some(n) = p.next_from {
        out.push_str(&format!("(more: --from {n})\n"));
    }
    out.push_str(&format!("{} pending transaction(s)\n", p.total));
    out
}

pub fn txs_text(t: &TxsView) -> String {
    let mut out = String::new();
    for r in &t.transactions {
        out.push_str(&format!(
            "{:>8}.{:<4} {} {} {}\n",
            r.height,
            r.index,
            r.tx.txid,
            format_ms(r.tx.timestamp),
            preview(&r.tx.data_bytes(), 40)
        ));
    }
    if let Some(n) = &t.next_from {
        out.push_str(&format!("(more: --from {n})\n"));
    }
    out
}

pub fn status_text(s: &StatusView) -> String {
    let p = &s.params;
    let mut out = String::new();
    out.push_str(&format!(
        "ledger      {:?} in {}\n",
        s.name,
        s.data_dir.display()
    ));
    out.push_str(&format!("genesis     {}\n", s.genesis));
    out.push_str(&format!(
        "tip         height {} {} ({})\n",
        s.tip.height,
        s.tip.hash,
        format_ms(s.tip.timestamp.unwrap_or(0))
    ));
    out.push_str(&format!(
        "chain work  {} (about 2^{:.1} hashes)\n",
        s.chain_work,
        work_log2(&s.chain_work)
    ));
    out.push_str(&format!(
        "difficulty  {} bits for the next block\n",
        s.next_difficulty
    ));
    out.push_str(&format!(
        "contents    {} blocks, {} transactions, {} pending\n",
        s.blocks, s.transactions, s.pending
    ));
    out.push_str(&format!(
        "rules       target {} ms per block, retarget every {} blocks{}\n",
        p.target_interval_ms,
        p.retarget_window,
        if p.fixed_difficulty {
            " (fixed difficulty)"
        } else {
            ""
        }
    ));
    out.push_str(&format!(
        "disk        {:.1} MiB\n",
        s.disk_bytes as f64 / (1024.0 * 1024.0)
    ));
    out.push_str(&format!(
        "tips        {} known (the chain with the most work is active)\n",
        s.tips.len()
    ));
    for t in &s.tips {
        out.push_str(&format!("  {}\n", tip_line(t)));
    }
    out
}

pub fn mined_text(m: &MinedView) -> String {
    format!(
        "mined block {} {} ({} tx, difficulty {}, {} hashes in {:.2} s, {:.1} MH/s)",
        m.height,
        m.hash,
        m.transactions,
        m.difficulty,
        m.hashes,
        m.seconds,
        m.hashes_per_second / 1e6
    )
}

pub fn import_text(v: &ImportView) -> String {
    let fork = if v.extends_tip || v.imported == 0 {
        String::new()
    } else if v.reorganized {
        format!(
            "; the imported branch has more work: switched to it, {} block(s) disconnected",
            v.disconnected
        )
    } else {
        "; the imported branch has no more work than this chain, which stays active".into()
    };
    format!(
        "imported {} block(s), {} already present{fork}; tip at height {} {}\n",
        v.imported, v.already_present, v.tip.height, v.tip.hash
    )
}
