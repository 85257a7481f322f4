//! Chain text in text output: authors, data, the ledger's name and error
//! lines echoing input are printed with bidirectional overrides,
//! zero-width and control characters escaped as `\u{…}` (and a backslash
//! as `\\`), so that one name cannot display as another; `--json` keeps
//! the exact strings.

use crate::kit::Ledger;

const AUTHOR: &str = "ali\u{202e}ecb";
const AUTHOR_SHOWN: &str = "ali\\u{202e}ecb";
const DATA: &str = "pay\u{200b}me\u{feff}now\u{7f}\u{85}";
const DATA_SHOWN: &str = "pay\\u{200b}me\\u{feff}now\\u{7f}\\u{85}";

/// Every character the escaping rule covers, none of which may appear raw.
fn hidden_chars() -> Vec<char> {
    let ranges = [
        (0x00, 0x09),
        (0x0b, 0x1f), // a newline may end a line of output
        (0x7f, 0x9f),
        (0x200b, 0x200f),
        (0x202a, 0x202e),
        (0x2060, 0x2060),
        (0x2066, 0x2069),
        (0xfeff, 0xfeff),
    ];
    ranges
        .iter()
        .flat_map(|&(a, b)| (a..=b).filter_map(char::from_u32))
        .collect()
}

fn assert_escaped(what: &str, out: &str, shown: &[&str]) {
    for c in hidden_chars() {
        assert!(
            !out.contains(c),
            "{what}: raw U+{:04X} in {out:?}",
            c as u32
        );
    }
    for s in shown {
        assert!(out.contains(s), "{what}: {s} not in {out}");
    }
}

#[test]
fn authors_and_data_are_escaped_in_text_and_exact_in_json() {
    let l = Ledger::with_init(&["--difficulty", "6", "--fixed-difficulty"]);
    let mined = l.submit(AUTHOR, DATA);
    l.mine(1);
    let pending = l.submit(AUTHOR, "later\u{2066}x\u{2069}");
    let both = [AUTHOR_SHOWN, DATA_SHOWN];
    assert_escaped("tx", &l.ok(&["tx", &mined]), &both);
    assert_escaped("block", &l.ok(&["block", "1"]), &both);
    assert_escaped("txs", &l.ok(&["txs", "--author", AUTHOR]), &[DATA_SHOWN]);
    assert_escaped(
        "pending",
        &l.ok(&["pending"]),
        &[AUTHOR_SHOWN, "later\\u{2066}x\\u{2069}"],
    );
    assert_escaped("pending tx", &l.ok(&["tx", &pending]), &[AUTHOR_SHOWN]);
    let tx = l.json(&["tx", &mined]);
    assert_eq!(tx["author"], AUTHOR);
    assert_eq!(tx["data"], DATA);
    let block = l.json(&["block", "1"]);
    assert_eq!(block["transactions"][0]["author"], AUTHOR);
    let page = l.json(&["pending"]);
    assert_eq!(page["transactions"][0]["author"], AUTHOR);
}

/// A backslash is escaped too, so a name that spells out an escape cannot
/// pass for the name it spells.
#[test]
fn a_backslash_is_escaped_so_escapes_cannot_be_spoofed() {
    let l = Ledger::new();
    let txid = l.submit("ali\\u{202e}ecb", "x");
    let out = l.ok(&["tx", &txid]);
    assert!(out.contains("ali\\\\u{202e}ecb"), "{out}");
}

#[test]
fn the_ledgers_name_is_escaped_in_status() {
    let l = Ledger::with_init(&["--difficulty", "6", "--name", "my\u{202e}gol\u{200d}"]);
    assert_escaped("status", &l.ok(&["status"]), &["my\\u{202e}gol\\u{200d}"]);
    assert_eq!(l.json(&["status"])["name"], "my\u{202e}gol\u{200d}");
}

/// An error line that echoes input escapes it too.
#[test]
fn error_lines_escape_the_input_they_echo() {
    let l = Ledger::new();
    let line = l.misused(&["block", "12\u{202e}34"], "malformed block reference");
    assert_escaped("error", &line, &["12\\u{202e}34"]);
    let line = l.misused(
        &["txs", "--author", "x", "--from", "1\u{2067}.0"],
        "position",
    );
    assert_escaped("error", &line, &["1\\u{2067}.0"]);
}
