//! The fuzz corpus (`fuzz/corpus/<target>/`) replayed on stable: every
//! checked-in input through the property its fuzz target checks
//! (`fuzz/properties.rs`, shared with the targets), so CI checks them
//! without nightly or cargo-fuzz. Also the seeds the corpus grew from
//! (`write_seeds`, run by hand) and, as named tests, every input the
//! fuzzer found that broke a property.

use std::fs;
use std::path::{Path, PathBuf};

use sledger::consensus::{Block, Transaction, Work};
use sledger::export;
use sledger::store::codec;
use sledger::store::schema::{OrphanState, ReorgJournal, TxLocation};
use sledger::testkit;

#[path = "../fuzz/properties.rs"]
mod properties;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

#[test]
fn every_corpus_input_keeps_its_targets_property() {
    for (target, property) in properties::TARGETS {
        let (mut inputs, mut accepted) = (0, 0);
        for entry in fs::read_dir(corpus_dir(target)).expect("the target's corpus") {
            let path = entry.expect("a corpus entry").path();
            let bytes = fs::read(&path).expect("a corpus input");
            inputs += 1;
            accepted += usize::from(property(&bytes));
        }
        assert!(inputs > 0, "{target}: an empty corpus");
        assert!(accepted > 0, "{target}: no input reaches the property");
    }
}

/// Two blocks: a genesis, and a child with text, binary and empty entries.
fn seed_blocks() -> Vec<Block> {
    let genesis = Block::genesis(&testkit::params(1, 10, false), 1_700_000_000_000);
    let txs = vec![
        testkit::tx("alice", 1),
        Transaction::new("bob", 2, vec![0, 0xff, 0x7f, 0x9f]).expect("an entry"),
        Transaction::new("c", 3, Vec::new()).expect("an entry"),
        Transaction::new("dé ü", 4, "line\nbreak \u{85}".into()).expect("an entry"),
    ];
    let child = testkit::unsealed_child(&genesis, txs, 1000, 1);
    vec![genesis, child]
}

/// Sample request bodies and query strings.
const SEED_REQUESTS: &[&str] = &[
    r#"{"author":"alice","data":"hello"}"#,
    r#"{"author":"bob","data_hex":"00ff"}"#,
    r#"{"blocks":2,"threads":1,"checkpoint_every":0.5}"#,
    "{}",
    " \r\n",
    r#"{"a":{"b":[1,-2,3.5e1,null,true,"\u00e9\ud83d\ude00"]}}"#,
    "from=1&limit=20",
    "author=al%20ice+x&from=3.0&limit=5",
    "name=export.jsonl",
    "challenge=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
];

fn store_seeds(blocks: &[Block]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = blocks
        .iter()
        .map(|b| codec::encode_block_record(&Work::pow2(9), b))
        .collect();
    out.push(codec::encode_body(&blocks[1].txs));
    out.push(codec::encode(&testkit::params(1, 10, true)));
    out.push(codec::encode(&OrphanState {
        count: 1,
        next_seq: 2,
    }));
    out.push(codec::encode(&TxLocation {
        height: 7,
        index: 3,
    }));
    out.push(codec::encode(&ReorgJournal {
        target: blocks[1].hash(),
        fork_height: 258,
    }));
    out.push(vec![0xab; 64]);
    out
}

/// Writes the seeds the corpus started from (`cargo test --test tests
/// fuzz_corpus::write_seeds -- --ignored`); the fuzzer grows them.
#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_seeds() {
    let blocks = seed_blocks();
    let txs = blocks.iter().flat_map(|b| &b.txs).map(Transaction::encode);
    let seeds: [(&str, Vec<Vec<u8>>); 6] = [
        ("block", blocks.iter().map(Block::encode).collect()),
        ("transaction", txs.collect()),
        (
            "export_line",
            blocks
                .iter()
                .map(|b| export::to_line(b).into_bytes())
                .collect(),
        ),
        (
            "request_body",
            SEED_REQUESTS
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
        ),
        ("store_record", store_seeds(&blocks)),
        ("net_message", net_seeds(&blocks)),
    ];
    for (target, inputs) in seeds {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).expect("the corpus directory");
        for (i, bytes) in inputs.iter().enumerate() {
            fs::write(dir.join(format!("seed-{i}")), bytes).expect("a seed");
        }
    }
}

/// Every kind of request and response, as the node's codec writes them.
fn net_seeds(blocks: &[Block]) -> Vec<Vec<u8>> {
    use sledger::net::protocol::{write_stream, Request, Response, Status};
    let status = Status {
        version: 2,
        genesis: blocks[0].hash().0,
        tip: blocks[1].hash().0,
        height: 1,
        work: [0; 32],
    };
    let hashes: Vec<[u8; 32]> = blocks.iter().map(|b| b.hash().0).collect();
    let requests = [
        Request::Status(status),
        Request::Headers {
            locator: hashes.clone(),
            max: 2000,
        },
        Request::Bodies { hashes },
        Request::Pending { after: 3, max: 500 },
    ];
    let headers: Vec<u8> = blocks.iter().flat_map(|b| b.header.encode()).collect();
    let responses = [
        Response::Status(status),
        Response::Headers(headers.into()),
        Response::Blocks(blocks.iter().map(|b| b.encode().into()).collect()),
        Response::Pending {
            entries: blocks[1].txs.iter().map(|t| t.encode().into()).collect(),
            next: 7,
        },
        Response::Refused("no".into()),
    ];
    let mut out: Vec<Vec<u8>> = requests
        .iter()
        .map(|r| write_stream(Some(r), None))
        .collect();
    out.extend(responses.iter().map(|r| write_stream(None, Some(r))));
    out
}

/// Found by `request_body`: `%+0` was a percent escape, since
/// `u8::from_str_radix` takes a leading `+`.
#[test]
fn a_percent_escape_is_two_hex_digits() {
    let found = include_bytes!("fixtures/fuzz/request_body-plus-in-percent-escape");
    properties::request_body(found);
    for raw in ["author=%+1", "author=a%+f", "name=%+0x"] {
        assert_eq!(
            sledger::fuzzing::query(raw, &["author", "name"]),
            Err(400),
            "{raw}"
        );
    }
    let ok = sledger::fuzzing::query("author=%2B%41", &["author"]).expect("escapes");
    assert_eq!(ok["author"], "+A");
}

/// Found by `request_body`: serde_json read `544444544444444444446` one
/// ulp away from the nearest double, so a request read back from its own
/// JSON (as a client's request reaches the node) changed. The reader now
/// rounds correctly (serde_json's `float_roundtrip`).
#[test]
fn a_number_reads_back_from_its_own_json() {
    let found = include_bytes!("fixtures/fuzz/request_body-float-read-back");
    properties::request_body(found);
    for text in [
        "544444544444444444446",
        "0.30000000000000004",
        "2.2250738585072014e-308",
    ] {
        let body = format!(r#"{{"checkpoint_every":{text}}}"#);
        let o = sledger::fuzzing::body_object(body.as_bytes()).expect("an object");
        let req = sledger::api::MineRequest::read(o).expect("a request");
        assert_eq!(
            req.checkpoint_every,
            Some(text.parse::<f64>().unwrap()),
            "{text}"
        );
    }
}
