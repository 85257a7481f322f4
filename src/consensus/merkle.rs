//! The Merkle root of a block's transaction ids.
//!
//! Rule (`docs/FORMAT.md`, "Merkle root"), with domain separation as in
//! RFC 6962 so that a leaf can never pass for an inner node:
//!
//! * no transactions: the root is 32 zero bytes;
//! * leaf `i` = SHA-256(`0x00` || txid_i);
//! * each level pairs nodes left to right, parent = SHA-256(`0x01` || left || right);
//!   an odd last node is carried up to the next level unchanged (never
//!   duplicated, which avoids Bitcoin's CVE-2012-2459 ambiguity);
//! * the root is the single node left.
//!
//! This gives the same root as RFC 6962's recursive definition (split at the
//! largest power of two below the count); a test checks the two agree.

use sha2::{Digest, Sha256};

use super::hash::{MerkleNode, Txid};

fn leaf(txid: &Txid) -> MerkleNode {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(txid.as_bytes());
    MerkleNode(h.finalize().into())
}

fn parent(left: &MerkleNode, right: &MerkleNode) -> MerkleNode {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.as_bytes());
    h.update(right.as_bytes());
    MerkleNode(h.finalize().into())
}

/// The Merkle root of `txids`, in block order.
pub fn merkle_root(txids: &[Txid]) -> MerkleNode {
    if txids.is_empty() {
        return MerkleNode::ZERO;
    }
    let mut level: Vec<MerkleNode> = txids.iter().map(leaf).collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [l, r] => parent(l, r),
                [odd] => *odd,
                _ => unreachable!("chunks(2) yields one or two"),
            });
        }
        level = next;
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::hash::sha256;

    /// RFC 6962 section 2.1, over our leaf hashes.
    fn rfc6962(leaves: &[MerkleNode]) -> MerkleNode {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = leaves.len().next_power_of_two() / 2;
        parent(&rfc6962(&leaves[..k]), &rfc6962(&leaves[k..]))
    }

    fn ids(n: usize) -> Vec<Txid> {
        (0..n).map(|i| Txid(sha256(&i.to_le_bytes()))).collect()
    }

    #[test]
    fn small_trees_by_hand() {
        assert_eq!(merkle_root(&[]), MerkleNode::ZERO);
        let t = ids(3);
        let (a, b, c) = (leaf(&t[0]), leaf(&t[1]), leaf(&t[2]));
        assert_eq!(merkle_root(&t[..1]), a);
        assert_eq!(merkle_root(&t[..2]), parent(&a, &b));
        // Odd count: c is carried up, not paired with itself.
        assert_eq!(merkle_root(&t), parent(&parent(&a, &b), &c));
        assert_ne!(merkle_root(&t), merkle_root(&[t[0], t[1], t[2], t[2]]));
        // The leaf hash is not the txid itself.
        let mut manual = vec![0u8];
        manual.extend_from_slice(t[0].as_bytes());
        assert_eq!(a.0, sha256(&manual));
    }

    #[test]
    fn agrees_with_rfc6962_recursion() {
        for n in 1..=40 {
            let t = ids(n);
            let leaves: Vec<_> = t.iter().map(leaf).collect();
            assert_eq!(merkle_root(&t), rfc6962(&leaves), "n = {n}");
        }
    }

    #[test]
    fn order_matters() {
        let t = ids(2);
        assert_ne!(merkle_root(&t), merkle_root(&[t[1], t[0]]));
    }
}
