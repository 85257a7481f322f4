//! Ids as people type them: block hashes and transaction ids by unique
//! prefix (as git abbreviates commits), `block tip`, and a hint when one
//! kind of id is given where the other is expected, locally and through
//! a node alike.

use std::collections::HashMap;

use crate::kit::{Ledger, Node};

/// A 4-digit prefix with a letter that two of `hashes` share.
fn shared_prefix(hashes: &[String]) -> Option<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for h in hashes {
        *seen.entry(&h[..4]).or_default() += 1;
    }
    let mut shared: Vec<&str> = seen
        .into_iter()
        .filter(|(p, n)| *n >= 2 && p.bytes().any(|b| b.is_ascii_alphabetic()))
        .map(|(p, _)| p)
        .collect();
    shared.sort();
    shared.first().map(|p| p.to_string())
}

fn block_hashes(l: &Ledger) -> Vec<String> {
    let v = l.json(&["chain", "--limit", "10000"]);
    v["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["hash"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn blocks_and_transactions_by_unique_prefix_and_the_tip() {
    let l = Ledger::new();
    let id = l.submit("alice", "by prefix");
    l.mine(1);
    let v = l.json(&["block", "1"]);
    let hash = v["hash"].as_str().unwrap().to_owned();
    // A prefix with a letter in it (digits alone are a height).
    let cut = (4..64)
        .find(|&n| hash[..n].bytes().any(|b| b.is_ascii_alphabetic()))
        .unwrap();
    assert_eq!(l.json(&["block", &hash[..cut]])["hash"], hash.as_str());
    assert_eq!(
        l.json(&["block", &hash[..cut].to_uppercase()])["hash"],
        hash.as_str()
    );
    assert_eq!(l.json(&["block", "tip"])["hash"], hash.as_str());
    l.mine(1);
    assert_eq!(l.json(&["block", "tip"])["height"], 2);
    for n in [4, 9, 63] {
        assert_eq!(l.json(&["tx", &id[..n]])["txid"], id.as_str(), "{n} digits");
    }
    let text = l.ok(&["tx", &id[..6]]);
    assert!(text.contains(&id), "{text}");
    // Three digits are too few: bad usage, as a malformed id.
    l.misused(&["tx", &id[..3]], "at least the first 4");
    l.misused(&["block", "abc"], "at least the first 4");
    l.misused(&["block", "tipp"], "malformed block reference");
}

#[test]
fn an_ambiguous_prefix_lists_its_matches_and_a_missing_one_says_so() {
    let l = Ledger::new();
    // Difficulty 6: every hash starts 00-03, so 4-digit prefixes take
    // about 1,000 values and 300 blocks share several.
    l.mine(300);
    let hashes = block_hashes(&l);
    let p = shared_prefix(&hashes).expect("300 hashes share a 4-digit prefix");
    let err = l.fails(&["block", &p], "ambiguous block hash prefix");
    let matching: Vec<&String> = hashes.iter().filter(|h| h.starts_with(&p)).collect();
    for m in &matching {
        assert!(err.contains(m.as_str()), "{err} lists {m}");
    }
    assert!(err.contains("give more digits"), "{err}");
    // One more digit of one of them resolves it, unless that too is shared.
    let longer = &matching[0][..12];
    assert_eq!(l.json(&["block", longer])["hash"], matching[0].as_str());
    l.fails(&["block", "fffffff"], "no block hash starts with fffffff");
    l.fails(&["tx", "fffffff"], "no transaction id starts with fffffff");
}

#[test]
fn a_txid_given_to_block_and_a_hash_given_to_tx_get_a_hint() {
    let l = Ledger::new();
    let id = l.submit("alice", "which is which");
    l.mine(1);
    let hash = l.json(&["block", "1"])["hash"].as_str().unwrap().to_owned();
    let err = l.fails(&["block", &id], "it is a transaction id");
    assert!(err.contains(&format!("sledger tx {id}")), "{err}");
    let err = l.fails(&["tx", &hash], "it is a block hash");
    assert!(err.contains(&format!("sledger block {hash}")), "{err}");
    let short = &id[..10];
    if !short.bytes().all(|b| b.is_ascii_digit()) {
        let err = l.fails(&["block", short], &format!("transaction {id} does"));
        assert!(err.contains(&format!("sledger tx {short}")), "{err}");
    }
}

#[test]
fn prefixes_tip_and_hints_are_the_same_through_a_node() {
    let l = Ledger::new();
    let id = l.submit("alice", "through a node");
    l.mine(1);
    let here: Vec<String> = [vec!["block", "tip"], vec!["tx", &id[..8]]]
        .iter()
        .map(|a| l.ok(a))
        .collect();
    let missing_here = l.fails(&["block", &id], "it is a transaction id");
    let node = Node::start(&l, &[]);
    let there: Vec<String> = [vec!["block", "tip"], vec!["tx", &id[..8]]]
        .iter()
        .map(|a| l.ok(a))
        .collect();
    assert_eq!(here, there);
    assert_eq!(
        l.fails(&["block", &id], "it is a transaction id"),
        missing_here
    );
    let (code, v) = node.get(&format!("/v1/blocks/{}", &id[..8]));
    assert_eq!(code, 404, "{v}");
    let (code, v) = node.get("/v1/blocks/tip");
    assert_eq!((code, v["height"].as_u64()), (200, Some(1)));
    let (code, v) = node.get(&format!("/v1/transactions/{}", &id[..5]));
    assert_eq!((code, v["txid"].as_str()), (200, Some(id.as_str())));
}
