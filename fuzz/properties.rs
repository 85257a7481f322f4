//! The properties the fuzz targets check, shared by the targets
//! (`fuzz/fuzz_targets/`) and the corpus replay on stable
//! (`tests/fuzz_corpus.rs`). Each takes one untrusted input, panics when
//! the library breaks a property (or panics itself), and returns whether
//! the input was accepted, so the replay can tell a corpus that reaches
//! the property from one that is refused at the door.
#![allow(dead_code)]

use sledger::api::json::{self, Object};
use sledger::api::mining_run::Settings;
use sledger::api::MineRequest;
use sledger::consensus::{Block, ChainParams, Transaction, Work};
use sledger::export;
use sledger::fuzzing;
use sledger::node::status;
use sledger::store::codec::{self, Record};
use sledger::store::schema::{
    ChainState, MigrationProgress, MiningCheckpoint, OrphanState, ReorgJournal, TxLocation,
};

/// A target's property: panics when it breaks; whether the input was accepted.
pub type Property = fn(&[u8]) -> bool;

/// The targets by name (their corpus directories), each with its property.
pub const TARGETS: &[(&str, Property)] = &[
    ("block", block),
    ("transaction", transaction),
    ("export_line", export_line),
    ("request_body", request_body),
    ("store_record", store_record),
    ("net_message", net_message),
];

/// A block that decodes re-encodes to the same bytes.
pub fn block(data: &[u8]) -> bool {
    let Ok(b) = Block::decode(data) else {
        return false;
    };
    assert_eq!(b.encode(), data, "a decoded block re-encodes as it came");
    assert_eq!(b.encoded_len(), data.len());
    let _ = (b.hash(), b.txids());
    if let Some(p) = b.genesis_params() {
        assert_eq!(p.encode(), b.txs[0].data(), "genesis parameters re-encode");
    }
    true
}

/// A transaction that decodes re-encodes to the same bytes, and keeps the
/// rules a new one is held to.
pub fn transaction(data: &[u8]) -> bool {
    let Ok(tx) = Transaction::decode(data) else {
        return false;
    };
    assert_eq!(
        tx.encode(),
        data,
        "a decoded transaction re-encodes as it came"
    );
    assert_eq!(tx.encoded_len(), data.len());
    let (author, data) = (tx.author(), tx.data().to_vec());
    let again = match tx.signed() {
        Some(s) => Transaction::with_signature(author, tx.timestamp(), data, *s),
        None => Transaction::new(author, tx.timestamp(), data),
    };
    assert_eq!(again.expect("a decoded transaction keeps the rules"), tx);
    true
}

/// A line that parses re-exports to a line, free of raw control
/// characters, that parses to the same block and re-exports to itself.
pub fn export_line(data: &[u8]) -> bool {
    let Ok(line) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(b) = export::parse_line(line) else {
        return false;
    };
    let again = export::to_line(&b);
    assert!(
        !again.chars().any(char::is_control),
        "raw control: {again:?}"
    );
    let reparsed = export::parse_line(&again).expect("a re-exported line parses");
    assert_eq!(reparsed, b);
    assert_eq!(export::to_line(&reparsed), again);
    for tx in &b.txs {
        let decoded = Transaction::decode(&tx.encode()).expect("an imported tx decodes");
        assert_eq!(&decoded, tx);
    }
    true
}

/// Endpoints' query parameters (`node/routes.rs`).
const QUERIES: &[&[&str]] = &[
    &["from", "limit"],
    &["author", "key", "from", "limit"],
    &["name"],
    &["challenge"],
];

/// Every request decoder of the node on the same input: the strict JSON
/// reader, the submit and mining-start bodies, the query strings. What is
/// refused is a 400, never another status; a mining request read back
/// from its own JSON is the same request.
pub fn request_body(data: &[u8]) -> bool {
    let _ = Object::parse(data);
    let submit = fuzzing::submit_body(data);
    if let Err(s) = &submit {
        assert_eq!(*s, 400, "a refused submit body");
    }
    let mine = match fuzzing::body_object(data) {
        Ok(o) => mine_request(o),
        Err(s) => {
            assert_eq!(s, 400, "a refused body");
            false
        }
    };
    let query = std::str::from_utf8(data).is_ok_and(query);
    submit.is_ok() || mine || query
}

/// A mining-start body: read back from its own JSON; a refusal is a 400.
fn mine_request(o: Object) -> bool {
    let Ok(req) = MineRequest::read(o) else {
        return false;
    };
    let text = json::to_string_escaped(&req).expect("a request serializes");
    let o = Object::parse(text.as_bytes()).expect("its JSON parses");
    assert_eq!(MineRequest::read(o).expect("it reads back"), req);
    if let Err(e) = Settings::new(&req) {
        assert_eq!(status::of(&e).as_u16(), 400, "{e}");
    }
    true
}

/// A query string for every endpoint: only its parameters, every `%`
/// followed by two hex digits, or a 400.
fn query(raw: &str) -> bool {
    let mut any = false;
    for allowed in QUERIES {
        match fuzzing::query(raw, allowed) {
            Ok(q) => {
                assert!(q.keys().all(|k| allowed.contains(&k.as_str())));
                assert!(percent_escapes_are_hex(raw), "accepted {raw:?}");
                any = true;
            }
            Err(s) => assert_eq!(s, 400, "a refused query"),
        }
    }
    any
}

fn percent_escapes_are_hex(raw: &str) -> bool {
    let b = raw.as_bytes();
    (0..b.len()).filter(|&i| b[i] == b'%').all(|i| {
        b.get(i + 1..i + 3)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Stored bytes, damaged: every store decoder on the same input. A
/// value that decodes re-encodes to the same bytes; a block record's
/// header read agrees with its whole read.
pub fn store_record(data: &[u8]) -> bool {
    let record = block_record(data);
    let body = codec::decode_body(data).is_ok_and(|txs| {
        assert_eq!(codec::encode_body(&txs), data, "a body re-encodes");
        true
    });
    let _ = (codec::decode_orphan(data), codec::decode_tx(data));
    let _ = (codec::group_hashes(data), codec::author_entries(data));
    for h in [0, 1, 63, 64, u64::MAX] {
        let _ = (codec::group_hash(data, h), codec::group_without(data, h));
    }
    let records = [
        round_trip::<ChainState>(data),
        round_trip::<OrphanState>(data),
        round_trip::<ReorgJournal>(data),
        round_trip::<MigrationProgress>(data),
        round_trip::<TxLocation>(data),
        round_trip::<MiningCheckpoint>(data),
        round_trip::<ChainParams>(data),
        round_trip::<Work>(data),
    ];
    record || body || records.contains(&true)
}

/// A block record: its header record agrees with the block.
fn block_record(data: &[u8]) -> bool {
    let header = codec::decode_block_header(data);
    let Ok((rec, block)) = codec::decode_block_record(data) else {
        return false;
    };
    let header = header.expect("a record that decodes has a header");
    assert_eq!(header, rec);
    assert_eq!(codec::encode_block_record(&rec.chain_work, &block), data);
    assert_eq!(rec.size as usize, block.encoded_len());
    assert_eq!(rec.tx_count as usize, block.txs.len());
    let txs = codec::decode_block_txs(data).expect("its transactions decode");
    assert_eq!(txs, block.txs);
    true
}

/// A record that decodes re-encodes to the same bytes.
fn round_trip<T: Record>(data: &[u8]) -> bool {
    let Ok(v) = codec::decode::<T>(data, "record") else {
        return false;
    };
    assert_eq!(
        codec::encode(&v),
        data,
        "{} re-encodes",
        std::any::type_name::<T>()
    );
    true
}

/// One stream's bytes from a peer, read as the node reads them: a message
/// that decodes re-reads the same once written, and the headers, blocks
/// and entries it carries go through the consensus decoders unharmed.
pub fn net_message(data: &[u8]) -> bool {
    fuzzing::net_message(data) > 0
}
