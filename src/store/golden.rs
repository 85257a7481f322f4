//! Golden bytes: a ledger built from fixed inputs holds exactly the records
//! the store wrote before its values got explicit encoders (each tree's
//! digest below was taken from the commit before that change). A changed
//! encoder, key layout or derive fails here, tree by tree, before it can
//! change the format of a ledger on disk.

use sha2::{Digest, Sha256};

use super::fork::Accepted;
use super::Store;
use crate::consensus::{Block, Transaction};
use crate::testkit::{named_params, seal, unsealed_child};

const T0: u64 = 1_700_000_000_000;

fn tx(author: &str, n: u64) -> Transaction {
    Transaction::new(author, T0 + n, format!("{author} says {n}").into_bytes()).unwrap()
}

/// Mines the next block on the tip from the pending entries, at `T0 + step s`.
fn mine(s: &Store, at: u64) -> Block {
    let b = seal(s.template(at).unwrap());
    s.append(&b, at).unwrap();
    b
}

/// A sealed child of `parent` on its own branch, with the difficulty that
/// branch requires.
fn branch_child(s: &Store, parent: &Block, txs: Vec<Transaction>) -> Block {
    let d = s
        .cursor_at(&parent.hash())
        .unwrap()
        .parent_info()
        .next_difficulty;
    seal(unsealed_child(parent, txs, 700, d.0))
}

/// Every kind of record: blocks on two branches and a reorganisation,
/// retargets, the author index across groups, pending entries, a mining
/// checkpoint, an orphan.
fn build(dir: &std::path::Path) -> Store {
    let params = named_params("golden", 3, 4, false, [9; 16]);
    let g = seal(Block::genesis(&params, T0));
    let s = Store::create(dir, &g, T0).unwrap();
    let mut blocks = vec![g];
    for h in 1..=9u64 {
        for i in 0..(h % 3) {
            s.submit(&tx(
                ["ann", "bob", "cy"][(i as usize + h as usize) % 3],
                h * 10 + i,
            ))
            .unwrap();
        }
        blocks.push(mine(&s, T0 + h * 900));
    }
    // A side branch from height 6 that overtakes the chain: a reorganisation.
    let mut side = blocks[6].clone();
    let mut reorganized = 0;
    for i in 0..5 {
        side = branch_child(&s, &side, vec![tx("dee", 100 + i)]);
        let r = s.accept_block(&side, T0 + 20_000).unwrap();
        reorganized += matches!(r, Accepted::Reorganized { .. }) as u32;
    }
    assert_eq!(reorganized, 1, "the branch overtook the chain");
    // A heavier branch that repeats an entry of the chain below it: invalid.
    let top = s.block_at(s.state().unwrap().height - 1).unwrap().block;
    let again = s.block_at(2).unwrap().block.txs[0].clone();
    let bad = branch_child(&s, &top, vec![again]);
    s.accept_block(&bad, T0 + 20_000).unwrap();
    let worse = branch_child(&s, &bad, vec![]);
    assert!(s.accept_block(&worse, T0 + 20_000).is_err());
    // A lighter side branch, and an orphan (its parent is never given).
    let light = branch_child(&s, &blocks[8], vec![tx("eve", 1)]);
    s.accept_block(&light, T0 + 20_000).unwrap();
    let lost = branch_child(&s, &light, vec![tx("eve", 2)]);
    let orphan = seal(unsealed_child(&lost, vec![tx("eve", 3)], 500, 3));
    assert_eq!(
        s.accept_block(&orphan, T0 + 20_000).unwrap(),
        Accepted::Orphan
    );
    s.submit(&tx("fay", 1)).unwrap();
    s.submit(&tx("fay", 2)).unwrap();
    let template = s.template(T0 + 21_000).unwrap();
    s.save_checkpoint(&template, 12_345, 67_890).unwrap();
    s
}

/// SHA-256 of each tree's entries (key length, key, value length, value,
/// lengths as u32 LE), by tree name.
pub(super) fn digests(s: &Store) -> Vec<(String, String)> {
    let db = &s.h().db;
    let mut names: Vec<_> = db.tree_names();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let mut h = Sha256::new();
            for e in db.open_tree(&name).unwrap().iter() {
                let (k, v) = e.unwrap();
                h.update((k.len() as u32).to_le_bytes());
                h.update(&k);
                h.update((v.len() as u32).to_le_bytes());
                h.update(&v);
            }
            (
                String::from_utf8_lossy(&name).into_owned(),
                hex::encode(h.finalize()),
            )
        })
        .collect()
}

const GOLDEN_META: &[(&str, &str)] = &[
    (
        "genesis",
        "04a16e2ccaf56daabaf95be81d4a91be188c6c6bf256b7d7d9683bbf3d39f183",
    ),
    (
        "mining_checkpoint",
        concat!(
            "01000000",
            "0c00000000000000",
            "08bd3924270b8b7e96ce5e7d9d57eff4357533271b54b414884bff7b01764e9d",
            "66c346b5175dffa5c3f7afa225e4d59fbaff36d242f648ab1932ef37514b0475",
            "08bae5cf8b010000",
            "04000000",
            "0500000000000000",
            "0900000000000000",
            "0d00000000000000",
            "3930000000000000",
            "3209010000000000",
        ),
    ),
    ("orphans", "01000000000000000100000000000000"),
    (
        "params",
        concat!(
            "0600000000000000",
            "676f6c64656e",
            "03000000",
            "e803000000000000",
            "04000000",
            "00",
            "09090909090909090909090909090909",
            "00",
        ),
    ),
    ("schema_version", "06000000"),
    (
        "state",
        concat!(
            "08bd3924270b8b7e96ce5e7d9d57eff4357533271b54b414884bff7b01764e9d",
            "0b00000000000000",
            "6000000000000000",
            "0000000000000000",
            "0000000000000000",
            "0000000000000000",
            "0c00000000000000",
            "0500000000000000",
            "0e00000000000000",
        ),
    ),
];

#[test]
fn a_fixed_ledger_holds_the_same_bytes_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let s = build(dir.path());
    let got = digests(&s);
    let mut names: Vec<&str> = super::trees::TREE_NAMES.to_vec();
    names.push("__sled__default");
    names.sort();
    let opened: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        opened, names,
        "the trees listed once are the trees there are"
    );
    for (name, digest) in &got {
        println!("(\"{name}\", \"{digest}\"),");
    }
    // The meta records, byte for byte (FORMAT.md, "Store layout").
    let meta: Vec<(String, String)> = s
        .h()
        .meta
        .0
        .iter()
        .map(|e| {
            let (k, v) = e.unwrap();
            (String::from_utf8_lossy(&k).into_owned(), hex::encode(&v))
        })
        .collect();
    let meta: Vec<(&str, &str)> = meta.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(meta, GOLDEN_META);
    let want: &[(&str, &str)] = &[
        (
            "__sled__default",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            "author_groups",
            "257e4d80dc240ea472ef87e5fb1bf17ab624e75a71c3f4badd65ba1284eb1a97",
        ),
        (
            "blocks",
            "bd70cf3943b65afc667fb0a09b08f6251bf4199a8fb73085bf4ff35b43d5eb89",
        ),
        (
            "heights",
            "5ca07380b7d5de718a006d22f44adcfb4b0a212a6571c9c14ecfc87c3e54c947",
        ),
        (
            "invalid",
            "35ef5c163d8d57135053be4406b03b705b15c7a648ef24bbd391123eb44e4101",
        ),
        (
            "key_names",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            "meta",
            "b36979084f61afb56f66eb4f8a60dc6b28f67c3ffdb8a8fd0835699c5d96ca2e",
        ),
        (
            "names",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            "orphan_ids",
            "8168a41826c07691dfee9d836d1a99810edc36406a7d7cab0c5fd817f2baab81",
        ),
        (
            "orphan_parents",
            "4e02641cb1a650534e1d43f3060788e512edaa67b630b5c8681cf40bef3bc238",
        ),
        (
            "orphans",
            "e5d35cb4385de9765a51a6510e71b0f753659f56d8d9eea80dc503f44055f59a",
        ),
        (
            "peers",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            "pending",
            "3ff336886c07cbcbff653495f5e97d9ff117968026aac72b8ffb2638bce8fed6",
        ),
        (
            "pending_ids",
            "23445c334a5cdb1abc48125d5b906adca1e1c782aa2de02cffd9a8a2da32f1d7",
        ),
        (
            "tips",
            "5f8c5559403ba62504db805dec19fc9ed3b006e410ab9dbb0f850d7d11fabe32",
        ),
        (
            "txs",
            "2c0a61b5d07dfa0fc41fb1a30b88aca83e8ab4da2dc69730b7f6ebbca68d0406",
        ),
    ];
    let got: Vec<(&str, &str)> = got.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(got, want);
}
