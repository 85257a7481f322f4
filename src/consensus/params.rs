//! [`ChainParams`]: the parameters a chain is created with, and their encoding
//! inside the genesis block, which commits to them.
//!
//! Encoding (`docs/FORMAT.md`, "Chain parameters"), integers little-endian:
//! `01` (format version) | name length (1 byte) | name (UTF-8) |
//! initial difficulty (u32) | target block interval in ms (u64) |
//! retarget window in blocks (u32) | fixed difficulty (1 byte, 0 or 1) |
//! salt (16 random bytes, so two ledgers never share a genesis by accident).
//! Version `02` adds one byte after the salt: the signature policy, `01`
//! for "every entry must be signed". A ledger whose entries may be unsigned
//! (every ledger made before signatures) is written as version `01`, so its
//! genesis is what it always was.

use super::encode::{DecodeError, Reader};
use super::pow::{Difficulty, MAX_DIFFICULTY};

/// Format version of the parameter encoding of a ledger whose entries may
/// be unsigned.
pub const PARAMS_VERSION: u8 = 1;
/// Format version of the parameter encoding that carries a signature policy
/// byte (written only for [`SignaturePolicy::Required`]).
pub const PARAMS_VERSION_POLICY: u8 = 2;
/// Longest chain name in UTF-8 bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Bounds on the retarget window, in blocks.
pub const MIN_WINDOW: u32 = 2;
pub const MAX_WINDOW: u32 = 100_000;
/// Bounds on the target interval, in milliseconds (1 ms to 1 day).
pub const MIN_INTERVAL_MS: u64 = 1;
pub const MAX_INTERVAL_MS: u64 = 86_400_000;

/// The parameters of one chain, fixed at `init` and committed in its genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParams {
    pub name: String,
    pub initial_difficulty: Difficulty,
    pub target_interval_ms: u64,
    pub retarget_window: u32,
    pub fixed_difficulty: bool,
    pub salt: [u8; 16],
    /// Whether every entry must be signed (`init --signatures`).
    pub signatures: SignaturePolicy,
}

/// Whether a ledger accepts unsigned entries (`docs/FORMAT.md`, "Signature
/// policy"). Under either, a name bound to a key takes only entries signed
/// by that key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// Entries may be signed or not (every ledger made before signatures).
    #[default]
    Optional,
    /// Every entry but the genesis block's must be signed.
    Required,
}

impl SignaturePolicy {
    /// `optional` or `required`, as `init --signatures` takes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            SignaturePolicy::Optional => "optional",
            SignaturePolicy::Required => "required",
        }
    }
}

/// A parameter outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("chain name must be 1 to {MAX_NAME_BYTES} bytes without control characters")]
    BadName,
    #[error("difficulty {0} is out of range (0 to {MAX_DIFFICULTY})")]
    DifficultyOutOfRange(u32),
    #[error(
        "target interval {0} ms is out of range ({MIN_INTERVAL_MS} ms to {MAX_INTERVAL_MS} ms)"
    )]
    IntervalOutOfRange(u64),
    #[error("retarget window {0} is out of range ({MIN_WINDOW} to {MAX_WINDOW} blocks)")]
    WindowOutOfRange(u32),
}

impl ChainParams {
    /// Checks every field against its range.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.name.is_empty()
            || self.name.len() > MAX_NAME_BYTES
            || self.name.chars().any(char::is_control)
        {
            return Err(ParamsError::BadName);
        }
        if self.initial_difficulty.0 > MAX_DIFFICULTY {
            return Err(ParamsError::DifficultyOutOfRange(self.initial_difficulty.0));
        }
        if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&self.target_interval_ms) {
            return Err(ParamsError::IntervalOutOfRange(self.target_interval_ms));
        }
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&self.retarget_window) {
            return Err(ParamsError::WindowOutOfRange(self.retarget_window));
        }
        Ok(())
    }

    /// The canonical encoding (assumes [`ChainParams::validate`] passed).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.name.len() + 4 + 8 + 4 + 1 + 16 + 1);
        let required = self.signatures == SignaturePolicy::Required;
        out.push(if required {
            PARAMS_VERSION_POLICY
        } else {
            PARAMS_VERSION
        });
        out.push(self.name.len() as u8);
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&self.initial_difficulty.0.to_le_bytes());
        out.extend_from_slice(&self.target_interval_ms.to_le_bytes());
        out.extend_from_slice(&self.retarget_window.to_le_bytes());
        out.push(self.fixed_difficulty as u8);
        out.extend_from_slice(&self.salt);
        if required {
            out.push(1);
        }
        out
    }

    /// Parses and validates the canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let invalid = |reason| DecodeError::Invalid {
            field: "chain parameters",
            reason,
        };
        let mut r = Reader::new(bytes);
        let version = r.u8("parameters version")?;
        if version != PARAMS_VERSION && version != PARAMS_VERSION_POLICY {
            return Err(invalid("unknown version"));
        }
        let name_len = r.u8("name length")? as usize;
        let name = std::str::from_utf8(r.take(name_len, "chain name")?)
            .map_err(|_| DecodeError::InvalidUtf8("chain name"))?
            .to_owned();
        let initial_difficulty = Difficulty(r.u32("initial difficulty")?);
        let target_interval_ms = r.u64("target interval")?;
        let retarget_window = r.u32("retarget window")?;
        let fixed_difficulty = match r.u8("fixed difficulty flag")? {
            0 => false,
            1 => true,
            _ => return Err(invalid("fixed difficulty flag is not 0 or 1")),
        };
        let salt = r.array::<16>("salt")?;
        let signatures = if version == PARAMS_VERSION_POLICY {
            match r.u8("signature policy")? {
                1 => SignaturePolicy::Required,
                // "Optional" is written as version 1: one encoding per ledger.
                0 => return Err(invalid("signature policy 0 is written as version 1")),
                _ => return Err(invalid("signature policy is not 1")),
            }
        } else {
            SignaturePolicy::Optional
        };
        r.finish()?;
        let params = ChainParams {
            name,
            initial_difficulty,
            target_interval_ms,
            retarget_window,
            fixed_difficulty,
            salt,
            signatures,
        };
        params
            .validate()
            .map_err(|_| invalid("a parameter is out of range"))?;
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChainParams {
        crate::testkit::named_params("test", 8, 10, false, [7; 16])
    }

    #[test]
    fn round_trip_and_layout() {
        let p = sample();
        let b = p.encode();
        assert_eq!(&b[..6], &[1, 4, b't', b'e', b's', b't']);
        assert_eq!(b.len(), 2 + 4 + 4 + 8 + 4 + 1 + 16);
        assert_eq!(ChainParams::decode(&b).unwrap(), p);
        let mut req = p.clone();
        req.signatures = SignaturePolicy::Required;
        let rb = req.encode();
        assert_eq!(rb[0], 2);
        assert_eq!(&rb[1..rb.len() - 1], &b[1..]);
        assert_eq!(rb[rb.len() - 1], 1);
        assert_eq!(ChainParams::decode(&rb).unwrap(), req);
        let mut zero = rb.clone();
        *zero.last_mut().unwrap() = 0;
        assert!(ChainParams::decode(&zero).is_err());
        let mut v1_with_byte = b.clone();
        v1_with_byte.push(1);
        assert!(ChainParams::decode(&v1_with_byte).is_err());
    }

    #[test]
    fn ranges_are_checked() {
        let mut p = sample();
        p.retarget_window = 1;
        assert_eq!(p.validate(), Err(ParamsError::WindowOutOfRange(1)));
        assert!(ChainParams::decode(&p.encode()).is_err());
        let mut p = sample();
        p.initial_difficulty = Difficulty(193);
        assert_eq!(p.validate(), Err(ParamsError::DifficultyOutOfRange(193)));
        let mut p = sample();
        p.target_interval_ms = 0;
        assert!(p.validate().is_err());
        let mut p = sample();
        p.name = String::new();
        assert_eq!(p.validate(), Err(ParamsError::BadName));
        let mut b = sample().encode();
        let flag = b.len() - 17;
        b[flag] = 2;
        assert!(ChainParams::decode(&b).is_err());
    }
}
