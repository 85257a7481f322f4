//! What peers say to each other (`docs/NETWORK.md`): the protocol and topic
//! names, each carrying the ledger's genesis hash, the request-response
//! messages (CBOR, the one serialized boundary of this module), and every
//! bound on them. Blocks and entries travel as their consensus bytes
//! (`docs/FORMAT.md`), decoded and checked by the ledger, never trusted.

use serde::{Deserialize, Serialize};

use crate::consensus::block::MAX_BLOCK_BYTES;
use crate::consensus::BlockHash;

/// The version of these messages, in every name and in the status.
pub const PROTOCOL_VERSION: u32 = 2;

/// Hashes a locator may hold: ten, then one per power of two back to
/// genesis, which fits a chain of any height.
pub const MAX_LOCATOR: usize = 80;

/// Headers a `Headers` reply may hold.
pub const MAX_HEADERS_PER_REPLY: u32 = 2000;

/// Hashes a `Bodies` request may name (and so blocks a `Blocks` reply
/// may hold).
pub const MAX_BODIES_PER_REQUEST: usize = 128;

/// Bytes of blocks a `Blocks` reply may hold (a reply stops before the
/// block that would pass it, but always holds at least one block).
pub const MAX_REPLY_BLOCK_BYTES: usize = 4 << 20;

/// Entries a `Pending` reply may hold, and their bytes at most (but at
/// least one entry if there is one).
pub const MAX_ENTRIES_PER_REPLY: u32 = 500;
pub const MAX_REPLY_ENTRY_BYTES: usize = 1 << 20;

/// Largest request a peer may send (a full locator, 80 hashes, fits in 8 KiB).
pub const MAX_REQUEST_BYTES: u64 = 16 << 10;

/// Largest response: a reply's blocks and their framing.
pub const MAX_RESPONSE_BYTES: u64 = (MAX_REPLY_BLOCK_BYTES + MAX_BLOCK_BYTES + (64 << 10)) as u64;

/// Largest gossip message: the largest legal block and gossipsub's framing.
pub const MAX_GOSSIP_BYTES: usize = MAX_BLOCK_BYTES + (16 << 10);

/// The request-response protocol of the ledger whose genesis is `genesis`.
pub fn sync_protocol(genesis: &BlockHash) -> String {
    format!("/sledger/{genesis}/sync/{PROTOCOL_VERSION}")
}

/// The gossip topic for newly sealed blocks.
pub fn blocks_topic(genesis: &BlockHash) -> String {
    format!("sledger/{genesis}/blocks/{PROTOCOL_VERSION}")
}

/// The gossip topic for newly submitted entries.
pub fn entries_topic(genesis: &BlockHash) -> String {
    format!("sledger/{genesis}/entries/{PROTOCOL_VERSION}")
}

/// Where a ledger stands: sent by both sides when a connection opens, and
/// again now and then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub version: u32,
    pub genesis: [u8; 32],
    pub tip: [u8; 32],
    pub height: u64,
    /// Cumulative work of the active chain, big-endian.
    pub work: [u8; 32],
}

/// A request to a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Here is my status; send yours.
    Status(Status),
    /// The headers of your active chain after the newest of these hashes
    /// that it holds (newest first, ending with genesis), at most `max`.
    Headers { locator: Vec<[u8; 32]>, max: u32 },
    /// The blocks (of any branch you store) with these hashes, in this
    /// order: 1 to [`MAX_BODIES_PER_REQUEST`].
    Bodies { hashes: Vec<[u8; 32]> },
    /// Your pending entries from your sequence number `after` on, at most
    /// `max`.
    Pending { after: u64, max: u32 },
}

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Status(Status),
    /// Consensus-encoded headers (96 bytes each), concatenated, oldest
    /// first, each the parent of the next.
    Headers(serde_bytes::ByteBuf),
    /// Consensus-encoded blocks in the order asked, up to the first one
    /// not stored.
    Blocks(Vec<serde_bytes::ByteBuf>),
    /// Consensus-encoded entries in the responder's arrival order, and the
    /// sequence number to ask from next.
    Pending {
        entries: Vec<serde_bytes::ByteBuf>,
        next: u64,
    },
    /// The request broke a bound or named another ledger.
    Refused(String),
}

/// The heights a locator samples below `tip`: the newest ten, then
/// exponentially spaced back, and genesis (height 0) last.
pub fn locator_heights(tip: u64) -> Vec<u64> {
    let mut heights = Vec::new();
    let mut step = 1u64;
    let mut h = tip;
    loop {
        heights.push(h);
        if h == 0 {
            return heights;
        }
        if heights.len() >= 10 {
            step = step.saturating_mul(2);
        }
        h = h.saturating_sub(step);
    }
}

/// The node's CBOR codec, with the bounds above.
pub(super) fn codec() -> libp2p::request_response::cbor::codec::Codec<Request, Response> {
    libp2p::request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(MAX_REQUEST_BYTES)
        .set_response_size_maximum(MAX_RESPONSE_BYTES)
}

/// One stream's bytes read by the node's codec as a request and as a
/// response, as the node reads what a peer sends (for the fuzz targets,
/// through `crate::fuzzing`).
pub fn read_stream(bytes: &[u8]) -> (Option<Request>, Option<Response>) {
    use libp2p::futures::executor::block_on;
    use libp2p::request_response::Codec;
    let protocol = libp2p::StreamProtocol::new("/sledger/fuzz");
    let mut c = codec();
    let request = block_on(c.read_request(&protocol, &mut libp2p::futures::io::Cursor::new(bytes)));
    let response =
        block_on(c.read_response(&protocol, &mut libp2p::futures::io::Cursor::new(bytes)));
    (request.ok(), response.ok())
}

/// A request or response as the node's codec writes it.
pub fn write_stream(request: Option<&Request>, response: Option<&Response>) -> Vec<u8> {
    use libp2p::futures::executor::block_on;
    use libp2p::request_response::Codec;
    let protocol = libp2p::StreamProtocol::new("/sledger/fuzz");
    let mut c = codec();
    let mut out = libp2p::futures::io::Cursor::new(Vec::new());
    let written = match (request, response) {
        (Some(r), _) => block_on(c.write_request(&protocol, &mut out, r.clone())),
        (None, Some(r)) => block_on(c.write_response(&protocol, &mut out, r.clone())),
        (None, None) => Ok(()),
    };
    written.expect("writing to memory cannot fail");
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locator_takes_ten_then_doubles_back_to_genesis() {
        assert_eq!(locator_heights(0), vec![0]);
        assert_eq!(locator_heights(3), vec![3, 2, 1, 0]);
        let l = locator_heights(1000);
        assert_eq!(
            &l[..11],
            &[1000, 999, 998, 997, 996, 995, 994, 993, 992, 991, 989]
        );
        assert_eq!(l[11..13], [985, 977]);
        assert_eq!(*l.last().unwrap(), 0);
        assert!(locator_heights(u64::MAX).len() <= MAX_LOCATOR);
    }
}
