//! Every bound on an argument, each a named constant written once, with
//! its check, and the defaults both doors share. The CLI checks its flags
//! here ([`crate::cli::checked`], naming the flag) and the API its
//! requests ([`crate::api`], naming the field), so a message names the
//! parameter the way its caller wrote it. Bounds that are consensus rules
//! stay in [`crate::consensus`]; the ones here that follow from them are
//! derived from their constants.

use std::fmt::Display;
use std::time::Duration;

use crate::consensus::params::{MAX_INTERVAL_MS, MIN_INTERVAL_MS};

/// A value outside its bounds; the message names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BoundError(String);

impl BoundError {
    /// The same, saying what was given.
    pub fn got(self, value: impl Display) -> BoundError {
        BoundError(format!("{} (got {value})", self.0))
    }
}

/// An inclusive range `min..=max` of a parameter's values, in `unit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Between<T> {
    pub min: T,
    pub max: T,
    /// Said after the bounds in a message (with its leading space), or "".
    pub unit: &'static str,
}

impl<T: PartialOrd + Display + Copy> Between<T> {
    /// Whether `v` is within the bounds (never for NaN).
    pub fn contains(&self, v: T) -> bool {
        self.min <= v && v <= self.max
    }

    /// `v` if it is within the bounds; else an error naming `name`.
    pub fn check(&self, name: &str, v: T) -> Result<T, BoundError> {
        if self.contains(v) {
            Ok(v)
        } else {
            Err(self.refuse(name))
        }
    }

    /// The error for a value of `name` outside the bounds.
    pub fn refuse(&self, name: &str) -> BoundError {
        BoundError(format!(
            "{name} must be between {} and {}{}",
            self.min, self.max, self.unit
        ))
    }
}

/// Mining threads (the most a [`crate::mining::Miner`] runs).
pub const THREADS: Between<u16> = Between {
    min: 1,
    max: crate::mining::MAX_THREADS as u16,
    unit: "",
};

/// Seconds a ban by the node's owner lasts (`peers ban --seconds`, the
/// API's `seconds`): a second to a year.
pub const BAN_SECONDS: Between<u64> = Between {
    min: 1,
    max: 31_536_000,
    unit: " seconds",
};

/// Seconds such a ban lasts unless told: a rule-breaker's ban.
pub const DEFAULT_BAN_SECONDS: u64 = 600;

/// Seconds between checkpoints of a long search.
pub const CHECKPOINT_EVERY: Between<f64> = Between {
    min: 0.01,
    max: 86_400.0,
    unit: " seconds",
};

/// The checkpoint interval when none is given.
pub const DEFAULT_CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// Seconds an idle miner lets the tip age before it seals an empty block
/// (`--empty-blocks-every`, the API's `empty_blocks_every`).
pub const EMPTY_BLOCKS_EVERY: Between<f64> = Between {
    min: 0.01,
    max: 31_536_000.0,
    unit: " seconds",
};

/// Largest page of `pending`, `chain` and `txs`.
pub const MAX_PAGE: usize = 10_000;

/// The page size when none is given.
pub const DEFAULT_PAGE: usize = 20;

/// Checks a page size (the message is the same through every door).
pub fn page(limit: usize) -> Result<usize, BoundError> {
    if limit > MAX_PAGE {
        return Err(BoundError(format!(
            "a page holds at most {MAX_PAGE} entries (asked for {limit})"
        )));
    }
    Ok(limit)
}

/// A chain's target time between blocks, in seconds: the consensus bounds
/// ([`MIN_INTERVAL_MS`] to [`MAX_INTERVAL_MS`]) in seconds.
pub const BLOCK_INTERVAL: Between<f64> = Between {
    min: MIN_INTERVAL_MS as f64 / 1000.0,
    max: MAX_INTERVAL_MS as f64 / 1000.0,
    unit: " seconds",
};

/// A block interval in seconds as whole milliseconds. Refused here: not a
/// number, not above zero, or over [`BLOCK_INTERVAL`]'s maximum. What it
/// rounds to is the consensus rules' to judge (`ChainParams::validate`:
/// under half a millisecond rounds to 0 and is refused there).
pub fn block_interval_ms(name: &str, seconds: f64) -> Result<u64, BoundError> {
    if !seconds.is_finite() || seconds <= 0.0 || seconds > BLOCK_INTERVAL.max {
        return Err(BLOCK_INTERVAL.refuse(name));
    }
    Ok((seconds * 1000.0).round() as u64)
}

/// Seconds a node's client has to send a request head, and between chunks
/// of its body.
pub const READ_TIMEOUT: Between<f64> = Between {
    min: 0.1,
    max: 3600.0,
    unit: " seconds",
};

/// Seconds per mining measurement of `sledger bench`.
pub const BENCH_SECONDS: Between<f64> = Between {
    min: 0.05,
    max: 600.0,
    unit: "",
};

/// Ledger sizes of `sledger bench store`, in blocks.
pub const BENCH_SIZES: Between<u64> = Between {
    min: 1,
    max: 100_000_000,
    unit: " blocks each",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_parameter() {
        assert_eq!(
            CHECKPOINT_EVERY
                .check("--checkpoint-every", 0.0)
                .unwrap_err()
                .to_string(),
            "--checkpoint-every must be between 0.01 and 86400 seconds"
        );
        assert_eq!(
            THREADS.check("threads", 0).unwrap_err().got(0).to_string(),
            "threads must be between 1 and 256 (got 0)"
        );
        assert!(CHECKPOINT_EVERY.check("x", f64::NAN).is_err());
        assert!(CHECKPOINT_EVERY.check("x", f64::INFINITY).is_err());
        assert_eq!(
            BENCH_SECONDS.refuse("--seconds").to_string(),
            "--seconds must be between 0.05 and 600"
        );
        assert_eq!(
            block_interval_ms("--block-interval", 0.0)
                .unwrap_err()
                .to_string(),
            "--block-interval must be between 0.001 and 86400 seconds"
        );
        assert_eq!(block_interval_ms("i", 1.5), Ok(1500));
        assert_eq!(page(MAX_PAGE), Ok(MAX_PAGE));
        assert!(page(MAX_PAGE + 1)
            .unwrap_err()
            .to_string()
            .contains("at most 10000"));
    }
}
