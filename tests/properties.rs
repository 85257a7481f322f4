//! Property tests for the consensus encodings: decode(encode(x)) == x,
//! decoding arbitrary bytes never panics, and any single-bit change to a
//! block in a chain is rejected.

use std::sync::OnceLock;

use proptest::prelude::*;
use sledger::consensus::block::Block;
use sledger::consensus::header::BlockHeader;
use sledger::consensus::rules::{
    check_block, check_genesis, check_signatures, ParentInfo, SignatureRules,
};
use sledger::consensus::{BlockHash, ChainParams, Difficulty, MerkleNode, Transaction, Txid};

use crate::kit::{child, named_params, seal};

fn author() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _.\u{e9}\u{4e2d}-]{1,16}".prop_filter("at most 64 bytes", |s| s.len() <= 64)
}

fn transaction() -> impl Strategy<Value = Transaction> {
    (
        author(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(a, t, d)| Transaction::new(a, t, d).expect("within limits"))
}

fn header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<u32>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(|(version, height, p, m, timestamp, d, nonce)| BlockHeader {
            version,
            height,
            prev_hash: BlockHash(p),
            merkle_root: MerkleNode(m),
            timestamp,
            difficulty: Difficulty(d),
            nonce,
        })
}

fn params() -> impl Strategy<Value = ChainParams> {
    (
        author(),
        0u32..=192,
        1u64..=86_400_000,
        2u32..=100_000,
        any::<bool>(),
        any::<[u8; 16]>(),
    )
        .prop_map(|(name, d, interval, window, fixed, salt)| ChainParams {
            name,
            initial_difficulty: Difficulty(d),
            target_interval_ms: interval,
            retarget_window: window,
            fixed_difficulty: fixed,
            signatures: Default::default(),
            salt,
        })
}

proptest! {
    #[test]
    fn transaction_round_trips(tx in transaction()) {
        let bytes = tx.encode();
        prop_assert_eq!(bytes.len(), tx.encoded_len());
        prop_assert_eq!(Transaction::decode(&bytes).unwrap(), tx);
    }

    #[test]
    fn header_round_trips(h in header()) {
        prop_assert_eq!(BlockHeader::decode(&h.encode()), h);
    }

    #[test]
    fn block_round_trips(h in header(), txs in proptest::collection::vec(transaction(), 0..6)) {
        let b = Block { header: h, txs };
        prop_assert_eq!(Block::decode(&b.encode()).unwrap(), b);
    }

    #[test]
    fn params_round_trip(p in params()) {
        prop_assert_eq!(ChainParams::decode(&p.encode()).unwrap(), p);
    }

    #[test]
    fn hashes_round_trip_through_hex(bytes in any::<[u8; 32]>()) {
        let id = Txid(bytes);
        prop_assert_eq!(id.to_string().parse::<Txid>().unwrap(), id);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Block::decode(&bytes);
        let _ = Transaction::decode(&bytes);
        let _ = ChainParams::decode(&bytes);
        let _ = sledger::export::parse_line(&String::from_utf8_lossy(&bytes));
    }
}

/// A three-block chain at a low difficulty: genesis, a block with three
/// transactions, and an empty block on top.
fn chain() -> &'static [Block; 3] {
    static CHAIN: OnceLock<[Block; 3]> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let p = named_params("prop", 8, 100, false, [9; 16]);
        let g = seal(Block::genesis(&p, 1_000));
        let txs = (0..3)
            .map(|i| Transaction::new("p", i, vec![i as u8; 5]).unwrap())
            .collect();
        let b1 = child(&g, txs, 1_000, 8);
        let b2 = child(&b1, vec![], 1_000, 8);
        [g, b1, b2]
    })
}

fn parent_of(b: &Block) -> ParentInfo {
    ParentInfo {
        hash: b.hash(),
        height: b.header.height,
        median_time_past: b.header.timestamp,
        next_difficulty: b.header.difficulty,
    }
}

/// True when [genesis, b1, b2] passes every rule.
fn chain_valid(g: &Block, b1: &Block, b2: &Block) -> bool {
    const NOW: u64 = 10_000;
    let no_repeats = |_: &_| Ok::<_, sledger::consensus::BlockError>(false);
    let unbound = |_: &str| Ok::<_, sledger::consensus::BlockError>(None);
    let Ok((_, params)) = check_genesis(g.clone(), NOW) else {
        return false;
    };
    let ledger = SignatureRules {
        genesis: g.hash(),
        policy: params.signatures,
    };
    check_block(b1.clone(), &parent_of(g), &ledger, NOW, no_repeats, unbound).is_ok()
        && check_block(
            b2.clone(),
            &parent_of(b1),
            &ledger,
            NOW,
            no_repeats,
            unbound,
        )
        .is_ok()
}

#[test]
fn the_untouched_chain_is_valid() {
    let [g, b1, b2] = chain();
    assert!(chain_valid(g, b1, b2));
}

/// A signed entry (`docs/FORMAT.md`, "Signed transaction") for a ledger
/// whose genesis hash is `[4; 32]`.
fn signed_transaction() -> impl Strategy<Value = Transaction> {
    (
        author().prop_filter("bindable", |a| {
            sledger::consensus::rules::unbindable_code_point(a).is_none()
        }),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..200),
        any::<[u8; 32]>(),
    )
        .prop_map(|(a, t, d, secret)| {
            Transaction::sign(a, t, d, &BlockHash([4; 32]), &secret).expect("within limits")
        })
}

proptest! {
    #[test]
    fn signed_entries_round_trip_and_verify(tx in signed_transaction()) {
        let bytes = tx.encode();
        prop_assert_eq!(bytes[0], 0x81);
        prop_assert_eq!(bytes.len(), tx.encoded_len());
        prop_assert_eq!(Transaction::decode(&bytes).unwrap(), tx.clone());
        let ledger = SignatureRules { genesis: BlockHash([4; 32]), policy: Default::default() };
        prop_assert!(check_signatures(std::slice::from_ref(&tx), &[tx.txid()], &ledger).is_ok());
        let other = SignatureRules { genesis: BlockHash([5; 32]), policy: Default::default() };
        prop_assert!(check_signatures(std::slice::from_ref(&tx), &[tx.txid()], &other).is_err());
    }

    /// Any single changed bit of a signed entry either fails to decode,
    /// drops the signature (the marker bit), or breaks it.
    #[test]
    fn any_single_bit_flip_in_a_signed_entry_is_caught(tx in signed_transaction(), bit in any::<usize>()) {
        let mut bytes = tx.encode();
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        if let Ok(changed) = Transaction::decode(&bytes) {
            prop_assert!(changed != tx);
            let ledger = SignatureRules { genesis: BlockHash([4; 32]), policy: Default::default() };
            let refused = check_signatures(std::slice::from_ref(&changed), &[changed.txid()], &ledger).is_err();
            prop_assert!(changed.signed().is_none() || refused, "bit {} went unnoticed", bit);
        }
    }

    #[test]
    fn any_single_bit_flip_in_a_block_is_rejected(bit in 0usize..(8 * 400)) {
        let [g, b1, b2] = chain();
        let bytes = b1.encode();
        let bit = bit % (bytes.len() * 8);
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        match Block::decode(&flipped) {
            Err(_) => {}
            Ok(changed) => {
                prop_assert!(changed != *b1);
                prop_assert!(!chain_valid(g, &changed, b2), "bit {} went unnoticed", bit);
            }
        }
    }

    #[test]
    fn any_single_bit_flip_in_genesis_is_rejected(bit in 0usize..(8 * 200)) {
        let [g, b1, b2] = chain();
        let bytes = g.encode();
        let bit = bit % (bytes.len() * 8);
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        if let Ok(changed) = Block::decode(&flipped) {
            prop_assert!(!chain_valid(&changed, b1, b2), "bit {} went unnoticed", bit);
        }
    }
}
