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

/// Chain text (an author, data, a ledger's name) and error lines as text
/// output shows them: each character that could make one text display as
/// another is written as `\u{X}`, X its code point in lowercase hex without
/// leading zeros (Rust's notation), and a backslash as `\\`, so the
/// escaped text reads back unambiguously. The characters: C0 controls
/// (U+0000 to U+001F, newline and tab included), DEL (U+007F), C1
/// controls (U+0080 to U+009F), the Arabic letter mark (U+061C), zero-width
/// and direction marks (U+200B to U+200F), line and paragraph separators
/// (U+2028, U+2029), bidirectional embeddings and overrides (U+202A to
/// U+202E), the word joiner and invisible operators (U+2060 to U+2064),
/// bidirectional isolates (U+2066 to U+2069) and the byte order mark
/// (U+FEFF). README.md, "Output", states the same rule.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` is one of the characters [`escape_text`] escapes.
fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// A short, single-line preview of entry data: its first `max` characters
/// escaped ([`escape_text`]) in double quotes, `…` after them when there
/// are more; data that is not UTF-8 is shown by its size.
pub fn preview(data: &[u8], max: usize) -> String {
    match std::str::from_utf8(data) {
        Ok(s) => {
            let head: String = s.chars().take(max).collect();
            let more = if head.len() < s.len() { "…" } else { "" };
            format!("\"{}\"{more}", escape_text(&head))
        }
        Err(_) => format!("<{} bytes of binary data>", data.len()),
    }
}

/// log2 of a decimal work figure, for "about 2^N hashes".
pub fn work_log2(decimal: &str) -> f64 {
    decimal.parse::<f64>().map_or(0.0, f64::log2)
}

pub fn block_text(b: &BlockView) -> String {
    let h = &b.block;
    let mut out = format!(
        "block {} {}{}\n  previous    {}\n  merkle root {}\n  time        {}\n  difficulty  {} bits   nonce {}\n  chain work  {}\n  size        {} bytes, {}\n",
        h.height,
        h.hash,
        if b.active { "" } else { " (not on the active chain)" },
        h.prev_hash,
        h.merkle_root,
        format_ms(h.timestamp),
        h.difficulty,
        h.nonce,
        h.chain_work,
        h.size,
        count(b.transactions.len() as u64, "transaction"),
    );
    for tx in &b.transactions {
        out.push_str(&format!(
            "    {} {} {} {}\n",
            tx.txid,
            escape_text(&tx.author),
            signed_mark(tx),
            preview(&tx.data_bytes(), 60)
        ));
    }
    out
}

pub fn header_line(r: &BlockSummary) -> String {
    format!(
        "{:>8}  {}  {}  {:>3} bits  {} tx",
        r.height,
        r.hash,
        format_ms(r.timestamp),
        r.difficulty,
        r.transaction_count
    )
}

/// `1 block`, `2 blocks`: a count and its noun.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The line, for stderr, that says how to ask for the next page.
pub fn more_hint(next: &dyn std::fmt::Display) -> String {
    format!("(more: --from {next})")
}

/// A table's rows under its column headers (nothing for no rows).
fn table(headers: &str, rows: String) -> String {
    if rows.is_empty() {
        rows
    } else {
        format!("{headers}\n{rows}")
    }
}

pub fn chain_text(c: &ChainView) -> String {
    let mut rows = String::new();
    for r in &c.blocks {
        rows.push_str(&header_line(r));
        rows.push('\n');
    }
    let headers = format!(
        "{:>8}  {:<64}  {:<24}  {:>8}  {}",
        "HEIGHT", "HASH", "TIME", "BITS", "TXS"
    );
    table(&headers, rows)
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
        "transaction {}\n  author    {}\n  signed    {}\n  time      {}\n  data      {} ({} bytes)\n",
        tx.txid,
        escape_text(&tx.author),
        signed_text(tx),
        format_ms(tx.timestamp),
        preview(&data, 200),
        data.len()
    )
}

/// Whether an entry is signed, and by which key: `by key FINGERPRINT
/// (PUBLIC KEY)` or `no`.
pub fn signed_text(tx: &TxFields) -> String {
    match &tx.public_key {
        Some(k) => format!("by key {} ({k})", k.fingerprint()),
        None => "no".into(),
    }
}

/// A short mark for lists: `signed:FINGERPRINT` or `unsigned`.
fn signed_mark(tx: &TxFields) -> String {
    match &tx.public_key {
        Some(k) => format!("signed:{}", k.fingerprint()),
        None => "unsigned".into(),
    }
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
            "#{:<6} {} {} {} {} {}\n",
            r.seq,
            r.tx.txid,
            format_ms(r.tx.timestamp),
            escape_text(&r.tx.author),
            signed_mark(&r.tx),
            preview(&r.tx.data_bytes(), 40)
        ));
    }
    let mut out = table(
        &format!(
            "{:<7} {:<64} {:<24} AUTHOR SIGNED DATA",
            "SEQ", "TXID", "TIME"
        ),
        out,
    );
    out.push_str(&format!(
        "{} pending\n",
        count(p.pending_count, "transaction")
    ));
    out
}

pub fn txs_text(t: &TxsView) -> String {
    let mut out = String::new();
    for r in &t.transactions {
        out.push_str(&format!(
            "{:>8}.{:<4} {} {} {} {} {}\n",
            r.height,
            r.index,
            r.tx.txid,
            format_ms(r.tx.timestamp),
            escape_text(&r.tx.author),
            signed_mark(&r.tx),
            preview(&r.tx.data_bytes(), 40)
        ));
    }
    table(
        &format!(
            "{:>8}.{:<4} {:<64} {:<24} AUTHOR SIGNED DATA",
            "HEIGHT", "POS", "TXID", "TIME"
        ),
        out,
    )
}

/// The network lines `status` adds when a networked node answers.
pub fn network_text(n: &crate::api::views::NetworkInfo) -> String {
    let mut out = format!(
        "peer id     {}\npeers       {} connected\n",
        n.peer_id, n.peer_count
    );
    for a in &n.listening {
        out += &format!("listening   {a}\n");
    }
    let s = &n.sync;
    out += &format!(
        "sync        {}: headers {}, blocks {}, best peer {}\n",
        s.phase, s.header_height, s.block_height, s.best_height
    );
    out
}

/// `peers`: one line per peer (what a peer sent is escaped).
pub fn peers_text(v: &crate::api::views::PeersView) -> String {
    if v.peers.is_empty() {
        return "no peers connected or banned\n".into();
    }
    let dash = || "-".to_owned();
    let mut out = format!(
        "{:<52} {:<34} {:<9} {:>8} {:>12} {:>7} {:>7}\n",
        "peer id", "address", "direction", "height", "work", "rtt", "score"
    );
    for p in &v.peers {
        let work = p
            .work
            .as_deref()
            .map_or_else(dash, |w| format!("2^{:.1}", work_log2(w)));
        out += &format!(
            "{:<52} {:<34} {:<9} {:>8} {:>12} {:>7} {:>7.1}",
            p.peer_id,
            p.address.as_deref().map_or_else(dash, escape_text),
            p.direction.as_deref().unwrap_or("-"),
            p.height.map_or_else(dash, |h| h.to_string()),
            work,
            p.rtt_ms.map_or_else(dash, |ms| format!("{ms} ms")),
            p.score,
        );
        if let Some(until) = p.banned_until {
            out += &format!(" banned until {}", format_ms(until));
        }
        out += "\n";
    }
    out
}

pub fn status_text(s: &StatusView) -> String {
    let p = &s.params;
    let mut out = String::new();
    out.push_str(&format!(
        "ledger      \"{}\" in {}\n",
        escape_text(&s.name),
        escape_text(&s.data_dir.display().to_string())
    ));
    out.push_str(&format!("genesis     {}\n", s.genesis));
    // A line to publish elsewhere (a message, a paper log): whoever holds
    // it can later check that a copy still leads to this block.
    out.push_str(&format!(
        "pin         \"{}\" height {} tip {} (check: sledger verify --expect-tip {})\n",
        escape_text(&s.name),
        s.tip.height,
        s.tip.hash,
        s.tip.hash
    ));
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
        "contents    {}, {}, {} pending\n",
        count(s.block_count, "block"),
        count(s.transaction_count, "transaction"),
        s.pending_count
    ));
    // A fixed difficulty never retargets, so the interval it was created
    // with steers nothing: do not print it as a target.
    let pacing = if p.fixed_difficulty {
        format!(
            "fixed difficulty {} bits (no target time between blocks: the pace is the hash rate's)",
            p.initial_difficulty
        )
    } else {
        format!(
            "target {} ms per block, retarget every {} blocks",
            p.target_interval_ms, p.retarget_window
        )
    };
    out.push_str(&format!(
        "rules       {pacing}; signatures {}\n",
        p.signatures
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
        m.transaction_count,
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
            "; the imported branch has more work: switched to it, {} disconnected",
            count(v.disconnected, "block")
        )
    } else {
        "; the imported branch has no more work than this chain, which stays active".into()
    };
    format!(
        "imported {}, {} already present{fork}; tip at height {} {}\n",
        count(v.imported, "block"),
        v.already_present,
        v.tip.height,
        v.tip.hash
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_text_writes_hidden_characters_and_backslashes_as_escapes() {
        assert_eq!(escape_text("plain ünïcode ✓"), "plain ünïcode ✓");
        assert_eq!(escape_text("ali\u{202e}ecb"), "ali\\u{202e}ecb");
        assert_eq!(
            escape_text("\u{0}\t\n\u{7f}\u{85}\u{9f}\u{61c}\u{200b}\u{2028}\u{2064}\u{2069}\u{feff}"),
            "\\u{0}\\u{9}\\u{a}\\u{7f}\\u{85}\\u{9f}\\u{61c}\\u{200b}\\u{2028}\\u{2064}\\u{2069}\\u{feff}"
        );
        assert_eq!(escape_text("a\\u{202e}"), "a\\\\u{202e}");
        // Just outside the ranges: printed as they are.
        assert_eq!(
            escape_text("\u{a0}\u{200a}\u{2065}\u{2070}"),
            "\u{a0}\u{200a}\u{2065}\u{2070}"
        );
    }

    #[test]
    fn preview_escapes_and_cuts() {
        assert_eq!(preview(b"a\nb", 10), "\"a\\u{a}b\"");
        assert_eq!(preview("ab\u{200b}cd".as_bytes(), 3), "\"ab\\u{200b}\"…");
        assert_eq!(preview(&[0xff, 0], 3), "<2 bytes of binary data>");
    }
}
