//! Entry signatures: [`PublicKey`], [`Signature`], the message an entry's
//! author signs ([`signing_message`]) and the one verification rule, applied
//! one by one ([`verify`]) or to many signatures at once ([`verify_batch`]).
//!
//! The rule (`docs/FORMAT.md`, "Signatures") is Ed25519 (RFC 8032) with
//! strict encodings and the **cofactored** equation:
//!
//! 1. the public key `A` and the signature's `R` are canonical encodings of
//!    curve points (the y coordinate below p, no "negative zero"), and
//!    neither is of small order;
//! 2. `S` is a canonical scalar, below the group order `l` (so no one can
//!    make a second valid signature from a first by adding `l` to `S`);
//! 3. `[8][S]B = [8]R + [8][k]A`, with `k = SHA-512(R || A || M) mod l`.
//!
//! Why cofactored: a batch check is a random linear combination of the
//! single equations, and only the cofactored equation makes "the batch
//! passes" mean exactly "every signature passes" (the argument of Zcash's
//! ZIP 215). With the cofactorless equation a signer can craft a signature
//! that a batch accepts and a one-by-one check refuses, and copies that
//! check differently would then disagree. Every signature made by a
//! standard signer (ed25519-dalek's, Python's, OpenSSL's) passes both
//! equations; the tests cross-check against ed25519-dalek's `verify_strict`.
//!
//! Keys and signing come from `ed25519-dalek`; verification is written here
//! on `curve25519-dalek`'s points so that the equation is the documented one.

use std::fmt;
use std::str::FromStr;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha256, Sha512};

use super::hash::BlockHash;

/// The domain-separation prefix of every signed message: 24 ASCII bytes.
pub const SIGNING_DOMAIN: &[u8; 24] = b"sledger signed entry v1\0";

/// An Ed25519 public key: the 32-byte compressed point, as RFC 8032 writes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

/// An Ed25519 signature: `R` (32 bytes) then `S` (32 bytes, little-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

/// A key or signature string that is not the right number of hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what} \"{text}\": expected {digits} hex digits")]
pub struct ParseKeyError {
    pub what: &'static str,
    pub text: String,
    pub digits: usize,
}

fn parse_hex<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], ParseKeyError> {
    let err = || ParseKeyError {
        what,
        text: s.chars().take(200).collect(),
        digits: 2 * N,
    };
    let mut out = [0u8; N];
    if s.len() != 2 * N {
        return Err(err());
    }
    hex::decode_to_slice(s, &mut out).map_err(|_| err())?;
    Ok(out)
}

impl PublicKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short name for the key, to compare by eye: the first 8 bytes of
    /// SHA-256 of the 32 key bytes, as 16 lowercase hex digits.
    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..8])
    }
}

impl Signature {
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// 128 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl FromStr for PublicKey {
    type Err = ParseKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex::<32>(s, "public key").map(PublicKey)
    }
}

impl FromStr for Signature {
    type Err = ParseKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex::<64>(s, "signature").map(Signature)
    }
}

/// The message an entry's author signs: [`SIGNING_DOMAIN`], the ledger's
/// genesis hash, then `body` (the signed entry's encoding without its
/// signature, `docs/FORMAT.md`, "Signed transaction").
pub fn signing_message(genesis: &BlockHash, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_DOMAIN.len() + 32 + body.len());
    m.extend_from_slice(SIGNING_DOMAIN);
    m.extend_from_slice(genesis.as_bytes());
    m.extend_from_slice(body);
    m
}

/// Why a signature is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the public key is not a valid Ed25519 point")]
    BadKey,
    #[error("the public key is a point of small order")]
    WeakKey,
    #[error("the signature's R is not a valid Ed25519 point")]
    BadR,
    #[error("the signature's R is a point of small order")]
    WeakR,
    #[error("the signature's S is not below the group order")]
    NonCanonicalS,
    #[error("the signature does not verify")]
    Mismatch,
}

/// A canonical encoding of a point that is not of small order.
fn point(
    bytes: &[u8; 32],
    bad: SignatureError,
    weak: SignatureError,
) -> Result<EdwardsPoint, SignatureError> {
    let p = CompressedEdwardsY(*bytes).decompress().ok_or(bad)?;
    if p.compress().as_bytes() != bytes {
        return Err(bad);
    }
    if p.is_small_order() {
        return Err(weak);
    }
    Ok(p)
}

/// One signature's parts, decoded and checked for rules 1 and 2.
struct Parsed {
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

fn parse(key: &PublicKey, message: &[u8], sig: &Signature) -> Result<Parsed, SignatureError> {
    let a = point(&key.0, SignatureError::BadKey, SignatureError::WeakKey)?;
    let r_bytes: [u8; 32] = sig.0[..32].try_into().expect("32 bytes");
    let s_bytes: [u8; 32] = sig.0[32..].try_into().expect("32 bytes");
    let r = point(&r_bytes, SignatureError::BadR, SignatureError::WeakR)?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(SignatureError::NonCanonicalS)?;
    let mut h = Sha512::new();
    h.update(r_bytes);
    h.update(key.0);
    h.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    Ok(Parsed { a, r, s, k })
}

/// Verifies one signature by the rule above.
pub fn verify(key: &PublicKey, message: &[u8], sig: &Signature) -> Result<(), SignatureError> {
    let p = parse(key, message, sig)?;
    // [S]B - [k]A - R, times the cofactor, is the identity.
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&-p.k, &p.a, &p.s);
    if (sb_minus_ka - p.r).mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// One signature to check in a batch.
pub struct Item<'a> {
    pub key: &'a PublicKey,
    pub message: &'a [u8],
    pub signature: &'a Signature,
}

/// Verifies every item; on failure, the index of the first item that fails
/// [`verify`] and why. The combined check is
/// `[8]( Σ z_i R_i + Σ (z_i k_i) A_i - (Σ z_i S_i) B ) = 0` with 128-bit
/// coefficients `z_i` drawn from SHA-512 of the whole batch, which passes
/// exactly when every single equation does (but for a chance of 2^-128).
/// A failed batch is checked one by one to name the first bad signature.
pub fn verify_batch(items: &[Item<'_>]) -> Result<(), (usize, SignatureError)> {
    if items.len() < 2 {
        return match items.first() {
            Some(it) => verify(it.key, it.message, it.signature).map_err(|e| (0, e)),
            None => Ok(()),
        };
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        match parse(it.key, it.message, it.signature) {
            Ok(p) => parsed.push(p),
            // An earlier item may fail only its equation: it comes first.
            Err(e) => return Err(first_failure(&items[..i]).unwrap_or((i, e))),
        }
    }
    // The coefficients: deterministic, from every signature and message hash.
    let mut seed = Sha512::new();
    seed.update(b"sledger batch coefficients");
    for p in &parsed {
        seed.update(p.k.as_bytes());
        seed.update(p.s.as_bytes());
        seed.update(p.r.compress().as_bytes());
    }
    let seed: [u8; 64] = seed.finalize().into();
    let z = |i: usize| {
        let mut h = Sha512::new();
        h.update(seed);
        h.update((i as u64).to_le_bytes());
        let mut wide = [0u8; 32];
        wide[..16].copy_from_slice(&h.finalize()[..16]);
        Scalar::from_bytes_mod_order(wide)
    };
    let zs: Vec<Scalar> = (0..parsed.len()).map(z).collect();
    let b_coeff: Scalar = parsed.iter().zip(&zs).map(|(p, z)| z * p.s).sum();
    let scalars = std::iter::once(-b_coeff)
        .chain(zs.iter().copied())
        .chain(parsed.iter().zip(&zs).map(|(p, z)| z * p.k));
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(parsed.iter().map(|p| p.r))
        .chain(parsed.iter().map(|p| p.a));
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points);
    if sum.mul_by_cofactor().is_identity() {
        return Ok(());
    }
    // Unreachable but for the 2^-128 chance: every single check passed.
    first_failure(items).map_or(Ok(()), Err)
}

/// The first item that fails [`verify`], one by one.
fn first_failure(items: &[Item<'_>]) -> Option<(usize, SignatureError)> {
    items.iter().enumerate().find_map(|(i, it)| {
        verify(it.key, it.message, it.signature)
            .err()
            .map(|e| (i, e))
    })
}

/// Signs `message` with a 32-byte Ed25519 secret key (RFC 8032 signing,
/// through ed25519-dalek). Returns the public key and the signature.
pub fn sign(secret: &[u8; 32], message: &[u8]) -> (PublicKey, Signature) {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(secret);
    let sig = key.sign(message);
    (
        PublicKey(key.verifying_key().to_bytes()),
        Signature(sig.to_bytes()),
    )
}

/// The public key of a 32-byte secret key.
pub fn public_key(secret: &[u8; 32]) -> PublicKey {
    PublicKey(
        ed25519_dalek::SigningKey::from_bytes(secret)
            .verifying_key()
            .to_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032, section 7.1, TEST 2 (one-byte message 0x72).
    const SECRET2: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    const PUBLIC2: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    const SIG2: &str = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

    fn secret(hex_: &str) -> [u8; 32] {
        hex::decode(hex_).unwrap().try_into().unwrap()
    }

    #[test]
    fn rfc8032_vector_signs_and_verifies() {
        let (pk, sig) = sign(&secret(SECRET2), &[0x72]);
        assert_eq!(pk.to_hex(), PUBLIC2);
        assert_eq!(sig.to_hex(), SIG2);
        assert_eq!(verify(&pk, &[0x72], &sig), Ok(()));
        assert_eq!(verify(&pk, &[0x73], &sig), Err(SignatureError::Mismatch));
    }

    #[test]
    fn non_canonical_s_and_weak_points_are_refused() {
        let (pk, sig) = sign(&secret(SECRET2), &[0x72]);
        // S + l: the same signature to a lax verifier, refused here.
        let l: [u8; 32] =
            hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
                .unwrap()
                .try_into()
                .unwrap();
        let mut s = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = sig.0[32 + i] as u16 + l[i] as u16 + carry;
            s[i] = v as u8;
            carry = v >> 8;
        }
        let mut malleated = sig;
        malleated.0[32..].copy_from_slice(&s);
        assert_eq!(
            verify(&pk, &[0x72], &malleated),
            Err(SignatureError::NonCanonicalS)
        );
        // The identity point (y = 1) as a key: small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            verify(&PublicKey(identity), &[0x72], &sig),
            Err(SignatureError::WeakKey)
        );
        // y = p + 1 encodes the identity too, non-canonically.
        let mut big = [0xffu8; 32];
        big[0] = 0xee;
        big[31] = 0x7f;
        assert_eq!(
            verify(&PublicKey(big), &[0x72], &sig),
            Err(SignatureError::BadKey)
        );
        let mut weak_r = sig;
        weak_r.0[..32].copy_from_slice(&identity);
        assert_eq!(verify(&pk, &[0x72], &weak_r), Err(SignatureError::WeakR));
    }

    #[test]
    fn batch_agrees_with_one_by_one_and_with_dalek_strict() {
        let mut keys = Vec::new();
        let mut msgs = Vec::new();
        let mut sigs = Vec::new();
        for i in 0..40u8 {
            let sk = [i.wrapping_mul(31).wrapping_add(7); 32];
            let msg = vec![i; i as usize];
            let (pk, sig) = sign(&sk, &msg);
            let dalek = ed25519_dalek::VerifyingKey::from_bytes(&pk.0).unwrap();
            assert!(dalek
                .verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig.0))
                .is_ok());
            keys.push(pk);
            msgs.push(msg);
            sigs.push(sig);
        }
        let items = |sigs: &[Signature]| -> Vec<(PublicKey, Vec<u8>, Signature)> {
            keys.iter()
                .zip(&msgs)
                .zip(sigs)
                .map(|((k, m), s)| (*k, m.clone(), *s))
                .collect()
        };
        let check = |all: &[(PublicKey, Vec<u8>, Signature)]| {
            let v: Vec<Item> = all
                .iter()
                .map(|(k, m, s)| Item {
                    key: k,
                    message: m,
                    signature: s,
                })
                .collect();
            verify_batch(&v)
        };
        assert_eq!(check(&items(&sigs)), Ok(()));
        let mut bad = sigs.clone();
        bad[17].0[40] ^= 1;
        bad[30].0[5] ^= 1;
        let first = check(&items(&bad)).unwrap_err().0;
        assert_eq!(first, 17);
        let dalek = ed25519_dalek::VerifyingKey::from_bytes(&keys[17].0).unwrap();
        assert!(dalek
            .verify_strict(&msgs[17], &ed25519_dalek::Signature::from_bytes(&bad[17].0))
            .is_err());
        // A later item that does not even decode (S above the order) does
        // not hide an earlier one that fails only its equation.
        bad[30].0[63] = 0xff;
        assert_eq!(check(&items(&bad)).unwrap_err().0, 17);
        bad[17] = sigs[17];
        assert_eq!(
            check(&items(&bad)).unwrap_err(),
            (30, SignatureError::NonCanonicalS)
        );
    }

    #[test]
    fn fingerprint_and_hex() {
        let pk: PublicKey = PUBLIC2.parse().unwrap();
        assert_eq!(pk.to_hex(), PUBLIC2);
        assert_eq!(pk.fingerprint().len(), 16);
        assert_eq!(pk.fingerprint(), hex::encode(&Sha256::digest(pk.0)[..8]));
        assert!("00".parse::<PublicKey>().is_err());
        assert_eq!(public_key(&secret(SECRET2)), pk);
        let m = signing_message(&BlockHash([9; 32]), b"xy");
        assert_eq!(&m[..24], SIGNING_DOMAIN);
        assert_eq!(m.len(), 24 + 32 + 2);
    }
}
