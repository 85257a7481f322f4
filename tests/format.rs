//! The worked examples of `docs/FORMAT.md` are what the code computes:
//! every value of the example chain (its genesis block whole, block 1 with
//! three transactions, their txids, Merkle levels, header bytes and export
//! lines) is recomputed here and must appear in the document verbatim.

use sledger::consensus::hash::sha256;
use sledger::consensus::merkle::merkle_root;
use sledger::consensus::{Block, BlockHeader, ChainParams, Difficulty, Transaction};
use sledger::export::to_line;
use sledger::testkit::seal;

/// The document's example chain: its genesis block and block 1.
fn example_chain() -> (Block, Block) {
    let params = ChainParams {
        name: "sledger".into(),
        initial_difficulty: Difficulty(6),
        target_interval_ms: 10,
        retarget_window: 4,
        fixed_difficulty: false,
        signatures: Default::default(),
        salt: hex::decode("a4bceb84a8ef7f7e163a34c49c768dfc")
            .unwrap()
            .try_into()
            .unwrap(),
    };
    let genesis = seal(Block::genesis(&params, 1_795_503_648_496));
    let txs = vec![
        Transaction::new("alice", 1_700_000_000_000, b"hello".to_vec()).unwrap(),
        Transaction::new("bin", 1_795_503_648_571, vec![0xff, 0, b'b', b'i', b'n']).unwrap(),
        Transaction::new("user2", 1_795_503_648_505, b"entry 2".to_vec()).unwrap(),
    ];
    let ids: Vec<_> = txs.iter().map(Transaction::txid).collect();
    let block1 = seal(Block {
        header: BlockHeader {
            version: 1,
            height: 1,
            prev_hash: genesis.hash(),
            merkle_root: merkle_root(&ids),
            timestamp: 1_795_503_648_504,
            difficulty: Difficulty(6),
            nonce: 0,
        },
        txs,
    });
    (genesis, block1)
}

/// The 96 header bytes as the document groups them: version and height,
/// the two hashes, then timestamp, difficulty and nonce.
fn header_hex(h: &BlockHeader) -> String {
    let b = hex::encode(h.encode());
    format!(
        "{} {}\n{}\n{}\n{} {} {}",
        &b[0..8],
        &b[8..24],
        &b[24..88],
        &b[88..152],
        &b[152..168],
        &b[168..176],
        &b[176..192]
    )
}

#[test]
fn the_worked_examples_are_what_the_code_computes() {
    let doc = include_str!("../docs/FORMAT.md");
    let (genesis, block1) = example_chain();
    let mut values = vec![
        to_line(&genesis),
        to_line(&block1),
        header_hex(&genesis.header),
        header_hex(&block1.header),
        genesis.hash().to_hex(),
        block1.hash().to_hex(),
        hex::encode(genesis.txs[0].encode()),
    ];
    let leaves: Vec<[u8; 32]> = block1
        .txids()
        .iter()
        .map(|t| sha256(&[&[0u8][..], &t.0].concat()))
        .collect();
    let p = sha256(&[&[1u8][..], &leaves[0], &leaves[1]].concat());
    let root = sha256(&[&[1u8][..], &p, &leaves[2]].concat());
    assert_eq!(root, block1.header.merkle_root.0);
    for (t, leaf) in block1.txids().iter().zip(&leaves) {
        values.push(format!("SHA-256(00 || {t}) = {}", hex::encode(leaf)));
    }
    values.push(format!("= {}", hex::encode(p)));
    values.push(format!("= {}", hex::encode(root)));
    let missing: Vec<&String> = values
        .iter()
        .filter(|v| !doc.contains(v.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/FORMAT.md lacks these computed values:\n{}",
        missing
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
}

/// The signed entry of "Signatures" (RFC 8032's TEST 1 key, signing for
/// the example chain's genesis) and block 2, which carries it: the code
/// computes the document's values.
#[test]
fn the_signed_example_is_what_the_code_computes() {
    let doc = include_str!("../docs/FORMAT.md");
    let (genesis, block1) = example_chain();
    let secret: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
    let tx = Transaction::sign(
        "alice",
        1_700_000_000_000,
        b"hello".to_vec(),
        &genesis.hash(),
        &secret,
    )
    .unwrap();
    let s = tx.signed().unwrap();
    assert_eq!(
        s.key.to_hex(),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    let ids = vec![tx.txid()];
    let block2 = seal(Block {
        header: BlockHeader {
            version: 1,
            height: 2,
            prev_hash: block1.hash(),
            merkle_root: merkle_root(&ids),
            timestamp: 1_795_503_648_600,
            difficulty: Difficulty(6),
            nonce: 0,
        },
        txs: vec![tx.clone()],
    });
    let values = [
        hex::encode(tx.signing_message(&genesis.hash())),
        hex::encode(tx.signing_body()),
        hex::encode(tx.encode()),
        s.signature.to_hex(),
        tx.txid().to_hex(),
        s.key.fingerprint(),
        block2.header.merkle_root.to_hex(),
        to_line(&block2),
        format!("nonce {}", block2.header.nonce),
    ];
    for v in &values {
        assert!(doc.contains(v.as_str()), "docs/FORMAT.md lacks {v}");
    }
}
