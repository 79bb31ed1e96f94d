//! ES256 signing: the `p256` crate's deterministic ECDSA (RFC 6979, no added entropy), with
//! k·G computed by `comb` instead of the crate's generator table and the nonce by `nonce`
//! instead of the rfc6979 crate.
//!
//! Why: in V8 the crate's k·G takes about 150 of its 185 µs per signature (32-bit field,
//! complete projective formulas on a 33-row table with doublings between), and the rfc6979
//! crate's nonce 12 µs where `nonce` takes 4. The scalar inversion and s = k⁻¹·(z + r·d) stay
//! with the `p256` scalars (constant time), so the signature is the crate's, byte for byte:
//! tests compare them.

use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::ff::PrimeField as _;
use p256::elliptic_curve::ops::Reduce;
use p256::{FieldBytes, Scalar};
use zeroize::Zeroizing;

use super::comb;
use super::nonce::Nonces;

/// Nonces tried before giving up: a try fails only if r or s is zero (probability about
/// 2^−256 each) or k·G fails its check.
const TRIES: usize = 2;

/// The ECDSA signature of a SHA-256 `digest` under `key`, equal to the crate's
/// `SigningKey::sign` of the message. `None` only if our k·G failed its on-curve check (a
/// fault): the caller then signs with the crate.
pub fn sign(key: &SigningKey, digest: &[u8; 32]) -> Option<Signature> {
    let d = key.as_nonzero_scalar();
    let d_bytes = Zeroizing::new(d.to_repr());
    let d_array = Zeroizing::new(<[u8; 32]>::from(*d_bytes));
    let mut nonces = Nonces::unseeded();
    nonces.seed(&d_array, digest);
    // z: the digest as an integer, reduced mod n (32 bytes: no truncation for P-256).
    let z = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(*digest));
    for _ in 0..TRIES {
        // A k in [1, n − 1]: RFC 6979's next draw (the rfc6979 crate's too).
        let k_bytes = nonces.next();
        let k = Zeroizing::new(Option::<Scalar>::from(Scalar::from_repr(
            FieldBytes::from(*k_bytes),
        ))?);
        let x = comb::mul_generator_x(&k_bytes)?;
        let r = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(x));
        let k_inv = Zeroizing::new(Option::<Scalar>::from(k.invert())?);
        let s = *k_inv * (z + r * d.as_ref());
        if let Ok(signature) = Signature::from_scalars(r, s) {
            return Some(signature);
        }
    }
    None
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
