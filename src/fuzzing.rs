//! Doors for the fuzz targets (`fuzz/`) and their corpus replay
//! (`tests/fuzz_corpus.rs`) into the node's private request decoders,
//! each as the route uses it; an `Err` is the HTTP status the node
//! would answer. Not an API.

use std::collections::HashMap;

use crate::api::json::Object;
use crate::node::routes::{self, SubmitBody};

/// A request body read as the node reads every JSON body.
pub fn body_object(bytes: &[u8]) -> Result<Object, u16> {
    routes::body_object(bytes).map_err(|f| f.status())
}

/// A `POST /v1/transactions` body: its author and data.
pub fn submit_body(bytes: &[u8]) -> Result<(String, Vec<u8>), u16> {
    let o = body_object(bytes)?;
    let b = SubmitBody::read(o).map_err(|f| f.status())?;
    Ok((b.author, b.data))
}

/// A query string read for an endpoint that takes `allowed`.
pub fn query(raw: &str, allowed: &[&str]) -> Result<HashMap<String, String>, u16> {
    routes::query(Some(raw.to_owned()), allowed).map_err(|f| f.status())
}

/// One stream's bytes from a peer, read as the node's network reads them:
/// as a request and as a response (CBOR, bounded), and then every header,
/// block and entry they carry decoded by the consensus decoders. Returns
/// how many of the two readings decoded.
pub fn net_message(bytes: &[u8]) -> usize {
    use crate::consensus::header::HEADER_BYTES;
    use crate::consensus::{Block, BlockHeader, Transaction};
    use crate::net::protocol::{read_stream, write_stream, Response};
    let (request, response) = read_stream(bytes);
    if let Some(r) = &request {
        let again = read_stream(&write_stream(Some(r), None)).0;
        assert_eq!(again.as_ref(), Some(r), "a request re-reads as written");
    }
    if let Some(r) = &response {
        let again = read_stream(&write_stream(None, Some(r))).1;
        assert_eq!(again.as_ref(), Some(r), "a response re-reads as written");
        match r {
            Response::Headers(b) => {
                for c in b.chunks_exact(HEADER_BYTES) {
                    let h = BlockHeader::decode(c.try_into().expect("exact chunk"));
                    assert_eq!(h.encode().as_slice(), c, "a header re-encodes");
                }
            }
            Response::Blocks(list) => list.iter().for_each(|b| {
                let _ = Block::decode(b);
            }),
            Response::Pending { entries, .. } => entries.iter().for_each(|e| {
                let _ = Transaction::decode(e);
            }),
            Response::Status(_) | Response::Refused(_) => {}
        }
    }
    usize::from(request.is_some()) + usize::from(response.is_some())
}
