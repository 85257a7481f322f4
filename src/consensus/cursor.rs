//! [`Cursor`]: the rolling view of a chain's last few headers that streaming
//! checks (`verify`, the first pass of `import`, the network's headers
//! phase) carry from header to header, so they never need more than a
//! bounded window of the chain in memory.

use std::collections::VecDeque;

use super::rules::{self, median_time, BlockError, ParentInfo, MEDIAN_TIME_SPAN};
use super::{BlockHash, BlockHeader, ChainParams, Work};

/// The tip of a chain being walked, with the timestamps of its last
/// `max(11, retarget window)` blocks: enough for the median-time-past rule
/// and for the retarget rule, which looks back one window.
#[derive(Debug, Clone)]
pub struct Cursor {
    params: ChainParams,
    tip: BlockHeader,
    tip_hash: BlockHash,
    chain_work: Work,
    /// Timestamps, oldest first, ending with the tip's.
    times: VecDeque<u64>,
    keep: usize,
}

impl Cursor {
    /// A cursor at `tip`, whose chain work is `chain_work`, given the
    /// timestamps of the blocks before it (oldest first; extra ones are
    /// dropped).
    pub fn new(
        params: ChainParams,
        tip: BlockHeader,
        tip_hash: BlockHash,
        chain_work: Work,
        earlier_times: impl IntoIterator<Item = u64>,
    ) -> Self {
        let keep = Self::history_len(&params);
        let mut c = Cursor {
            params,
            tip,
            tip_hash,
            chain_work,
            times: VecDeque::with_capacity(keep + 1),
            keep,
        };
        for t in earlier_times {
            c.push_time(t);
        }
        c.push_time(tip.timestamp);
        c
    }

    /// How many timestamps, the tip's included, a cursor keeps.
    pub fn history_len(params: &ChainParams) -> usize {
        MEDIAN_TIME_SPAN.max(params.retarget_window as usize)
    }

    fn push_time(&mut self, t: u64) {
        self.times.push_back(t);
        if self.times.len() > self.keep {
            self.times.pop_front();
        }
    }

    pub fn tip(&self) -> &BlockHeader {
        &self.tip
    }

    pub fn tip_hash(&self) -> BlockHash {
        self.tip_hash
    }

    pub fn chain_work(&self) -> Work {
        self.chain_work
    }

    /// What the rules need to check a child of the tip.
    pub fn parent_info(&self) -> ParentInfo {
        let n = self.times.len();
        let recent: Vec<u64> = self
            .times
            .iter()
            .skip(n.saturating_sub(MEDIAN_TIME_SPAN))
            .copied()
            .collect();
        let tip_height = self.tip.height;
        let next = rules::next_difficulty(&self.params, &self.tip, |h| {
            // h = tip_height + 1 - window, which the history always covers
            // (it keeps `window` timestamps, and a retarget needs `window`
            // blocks below it).
            let back = (tip_height - h) as usize;
            Ok::<_, std::convert::Infallible>(
                *self
                    .times
                    .get(n - 1 - back)
                    .expect("a cursor keeps a full retarget window of timestamps"),
            )
        })
        .unwrap_or_else(|e| match e {});
        ParentInfo {
            hash: self.tip_hash,
            height: tip_height,
            median_time_past: median_time(&recent),
            next_difficulty: next,
        }
    }

    /// Moves the tip to `header` (a checked child of the current tip).
    pub fn advance(&mut self, header: BlockHeader, hash: BlockHash) {
        self.chain_work = self
            .chain_work
            .checked_add(header.difficulty.work())
            .unwrap_or(self.chain_work);
        self.tip = header;
        self.tip_hash = hash;
        self.push_time(header.timestamp);
    }

    /// Checks `header` as the tip's child, without its body: the header
    /// rules ([`rules::check_header`]: version, height, link, difficulty,
    /// timestamps) and its proof of work ([`rules::check_pow`]); on
    /// success the tip moves to it. What the network's headers phase runs
    /// before it asks for any body.
    pub fn check_child(
        &mut self,
        header: &BlockHeader,
        now_ms: u64,
    ) -> Result<BlockHash, BlockError> {
        rules::check_header(header, &self.parent_info(), now_ms)?;
        let hash = rules::check_pow(header)?;
        self.advance(*header, hash);
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::Block;
    use crate::testkit::{child, params, seal, unsealed_child};

    fn start() -> (ChainParams, Block, Cursor) {
        let p = params(4, 4, false);
        let genesis = seal(Block::genesis(&p, 1_000_000));
        let c = Cursor::new(
            p.clone(),
            genesis.header,
            genesis.hash(),
            genesis.header.difficulty.work(),
            [],
        );
        (p, genesis, c)
    }

    #[test]
    fn check_child_takes_a_chain_of_headers_and_counts_its_work() {
        let (_, genesis, mut c) = start();
        let mut parent = genesis.clone();
        for _ in 0..10 {
            let b = child(&parent, vec![], 1000, c.parent_info().next_difficulty.0);
            assert_eq!(c.check_child(&b.header, u64::MAX / 2), Ok(b.hash()));
            parent = b;
        }
        assert_eq!(c.tip_hash(), parent.hash());
        assert!(c.chain_work() > genesis.header.difficulty.work());
    }

    #[test]
    fn check_child_refuses_a_header_that_breaks_a_rule_and_stays_put() {
        let (_, genesis, mut c) = start();
        let good = child(&genesis, vec![], 1000, 4);
        let mut unsealed = unsealed_child(&genesis, vec![], 1000, 4);
        while rules::check_pow(&unsealed.header).is_ok() {
            unsealed.header.nonce += 1;
        }
        let mut unlinked = good.clone();
        unlinked.header.prev_hash = good.hash();
        let unlinked = seal(unlinked);
        let easier = child(&genesis, vec![], 1000, 3);
        let old = child(&genesis, vec![], 0, 4);
        for (bad, what) in [
            (&unsealed, "proof of work"),
            (&unlinked, "link"),
            (&easier, "difficulty"),
            (&old, "timestamp"),
        ] {
            assert!(
                c.check_child(&bad.header, u64::MAX / 2).is_err(),
                "{what} not checked"
            );
            assert_eq!(c.tip_hash(), genesis.hash(), "moved on a bad {what}");
        }
        assert!(c.check_child(&good.header, u64::MAX / 2).is_ok());
    }
}
