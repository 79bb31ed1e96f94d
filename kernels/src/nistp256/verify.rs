//! ES256 signature verification, about five times faster in V8 than the `p256` crate's.
//!
//! Why our own: verification computes u1·G + u2·Q, and in wasm the crate's 32-bit field and its
//! complete (exception-free) formulas cost about a millisecond. Verification handles no secret
//! (the key, the signature and the message are all public), so this code may take variable time
//! and branch on values: incomplete Jacobian formulas that test their exceptional cases
//! (`point`), and Strauss–Shamir over width-w NAF digits (`wnaf`) with both scalars split in
//! 128-bit halves: u·P = u_lo·P + u_hi·(2^128·P), so one run of 128 doublings serves four
//! scalars, each half picking odd multiples from an affine table. G's tables are built once per
//! VM when the first P-256 key loads, each key's on its first verification.
//!
//! Proven against the Wycheproof vectors and the crate itself on random keys
//! (tests/jose_wycheproof.rs, tests/jose_differential.rs and `verify_tests.rs`).

use std::sync::OnceLock;

use p256::elliptic_curve::ff::PrimeField as _;
use p256::elliptic_curve::ops::Reduce;
use p256::{FieldBytes, Scalar};

use super::field::{add_below_p, plain_from_be_bytes, Fe, ORDER};
use super::point::{times_power_of_two, Affine, Jacobian, OddMultiples};
use super::{point_from_bytes, wnaf, GX, GY};

/// NAF width for G's tables (32 entries each, built once per VM).
const G_WIDTH: u32 = 7;
/// NAF width for a key's tables (16 entries each: 2.3 KB per key).
const Q_WIDTH: u32 = 6;

/// Odd multiples of P and of 2^128·P.
#[derive(Clone)]
struct Tables {
    low: OddMultiples,
    high: OddMultiples,
}

impl Tables {
    fn new(p: &Affine, width: u32) -> Option<Self> {
        Some(Self {
            low: OddMultiples::new(p, width)?,
            high: OddMultiples::new(&times_power_of_two(p, 128)?, width)?,
        })
    }
}

fn generator_tables() -> Option<&'static Tables> {
    static TABLES: OnceLock<Option<Tables>> = OnceLock::new();
    TABLES
        .get_or_init(|| Tables::new(&point_from_bytes(&GX, &GY)?, G_WIDTH))
        .as_ref()
}

/// A P-256 public key ready for fast verification.
#[derive(Clone)]
pub struct P256Verifier {
    q: Affine,
    tables: OnceLock<Option<Tables>>,
}

impl P256Verifier {
    /// From the key's big-endian affine coordinates; `None` if they are not a curve point. G's
    /// tables are built here (once per VM, with the configuration), so no request pays for them.
    /// The key's own wait for its first verification: a configuration may hold thousands of
    /// keys, most of them rarely used, and each table costs about 0.1 ms and 2.3 KB.
    pub fn new(x: &[u8; 32], y: &[u8; 32]) -> Option<Self> {
        let q = point_from_bytes(x, y)?;
        // A table that cannot be built is `None` either way: verification then asks the crate.
        let _ = generator_tables();
        Some(Self {
            q,
            tables: OnceLock::new(),
        })
    }

    /// Whether `signature` is valid for the SHA-256 `digest` under this key. `None` only if a
    /// table cannot be built (not for a point of the curve): the caller then asks the crate.
    pub fn verify(&self, digest: &[u8; 32], signature: &p256::ecdsa::Signature) -> Option<bool> {
        // r and s are in [1, n − 1]: `Signature` refuses anything else.
        let (r, s) = signature.split_scalars();
        let z = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(*digest));
        let Some(w) = Option::<Scalar>::from(s.invert_vartime()) else {
            return Some(false);
        };
        let u1 = be_bytes(&(z * w));
        let u2 = be_bytes(&(*r * w));
        let g = generator_tables()?;
        let q = self
            .tables
            .get_or_init(|| Tables::new(&self.q, Q_WIDTH))
            .as_ref()?;
        let sum = lincomb(&[
            (wnaf::wnaf(low_half(&u1), G_WIDTH), &g.low),
            (wnaf::wnaf(high_half(&u1), G_WIDTH), &g.high),
            (wnaf::wnaf(low_half(&u2), Q_WIDTH), &q.low),
            (wnaf::wnaf(high_half(&u2), Q_WIDTH), &q.high),
        ])?;
        Some(x_matches(&sum, &r.to_repr().into()))
    }
}

fn be_bytes(s: &Scalar) -> [u8; 32] {
    s.to_repr().into()
}

fn low_half(be: &[u8; 32]) -> u128 {
    let (_, low) = be.split_at(16);
    u128::from_be_bytes(low.try_into().unwrap_or_default())
}

fn high_half(be: &[u8; 32]) -> u128 {
    let (high, _) = be.split_at(16);
    u128::from_be_bytes(high.try_into().unwrap_or_default())
}

/// Σ digitsₖ·Pₖ, the digits' doublings shared (Strauss–Shamir).
fn lincomb(terms: &[([i8; wnaf::DIGITS], &OddMultiples)]) -> Option<Jacobian> {
    let top = terms
        .iter()
        .filter_map(|(digits, _)| digits.iter().rposition(|&d| d != 0))
        .max();
    let mut acc = Jacobian::INFINITY;
    for i in (0..=top.unwrap_or(0)).rev() {
        acc = acc.double();
        for (digits, table) in terms {
            let digit = digits.get(i).copied().unwrap_or(0);
            if digit != 0 {
                acc = acc.add_affine(&table.get(digit)?);
            }
        }
    }
    Some(acc)
}

/// Whether the affine x of `sum`, reduced mod n, is `r`: x = X/Z² is r or r + n (the latter
/// only when below p), checked as X = x·Z² without an inversion.
fn x_matches(sum: &Jacobian, r: &[u8; 32]) -> bool {
    if sum.is_infinity() {
        return false;
    }
    let z2 = sum.z.square_vartime();
    let r_plain = plain_from_be_bytes(r);
    if Fe::from_plain_below_p(&r_plain).mul_vartime(&z2) == sum.x {
        return true;
    }
    add_below_p(&r_plain, &ORDER)
        .is_some_and(|r_plus_n| Fe::from_plain_below_p(&r_plus_n).mul_vartime(&z2) == sum.x)
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
