//! The filter's own P-256 arithmetic: ES256 verification and the k·G of ES256 signing.
//!
//! Both run on one field (`field`: 29-bit limbs in 64-bit accumulators, which V8 and Cranelift
//! multiply with plain `i64.mul`) and differ in what they may reveal:
//! - `verify` handles only public values (key, signature, message) and may take variable time:
//!   incomplete Jacobian formulas that branch on their exceptional cases (`point`) and width-w
//!   NAF digits (`wnaf`).
//! - `comb` computes k·G for a secret nonce k in constant time: one mixed Jacobian addition
//!   per odd radix-32 digit from a fixed table (no zero digit, so no dummy addition; the
//!   recoding keeps the additions off their exceptional cases), every table row read whole.
//!   `sign` builds ECDSA on it (RFC 6979 nonces from `nonce`, the crate's constant-time
//!   scalars), and gives the `p256` crate's signatures byte for byte.
//!
//! The field's arithmetic is constant time (no branch or index on a value), except the
//! `_vartime` variants that verification uses; its equality and zero tests branch too, and
//! signing uses them on public results alone.

mod comb;
mod field;
mod nonce;
mod point;
mod sign;
mod verify;
mod wnaf;

pub use comb::{mul_generator_x, prepare as prepare_signing};
pub use sign::sign;
pub use verify::P256Verifier;

use subtle::Choice;

use field::Fe;
use point::Affine;

/// The generator, big-endian x and y.
const GX: [u8; 32] = hex32("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
const GY: [u8; 32] = hex32("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
/// The curve's b.
const B: [u8; 32] = hex32("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b");

/// 64 hex digits into bytes (compile time).
// Const evaluation only: a bad index or digit fails the build, never a running filter.
#[allow(clippy::indexing_slicing, clippy::panic)]
const fn hex32(hex: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let bytes = hex.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(bytes[2 * i]) << 4 | nibble(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

/// A point from big-endian coordinates, `None` unless both are below p and it is on the curve.
fn point_from_bytes(x: &[u8; 32], y: &[u8; 32]) -> Option<Affine> {
    let point = Affine {
        x: Fe::from_be_bytes(x)?,
        y: Fe::from_be_bytes(y)?,
    };
    on_curve(&point).then_some(point)
}

/// Whether y² = x³ − 3x + b (the answer is branched on: use it on public points only).
fn on_curve(p: &Affine) -> bool {
    let Some(b) = Fe::from_be_bytes(&B) else {
        return false;
    };
    let rhs = p.x.square().mul(&p.x).sub(&p.x.double().add(&p.x)).add(&b);
    p.y.square() == rhs
}

/// (a − b) for 32-byte big-endian numbers, and whether it borrowed (a < b), in constant time
/// (the nonce's range checks, the comb's n − k).
pub(super) fn sub_be(a: &[u8; 32], b: &[u8; 32]) -> ([u8; 32], Choice) {
    let mut out = [0u8; 32];
    let mut borrow = 0u16;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b).rev() {
        let v = u16::from(x).wrapping_sub(u16::from(y)).wrapping_sub(borrow);
        *o = v as u8;
        borrow = v >> 15;
    }
    (out, Choice::from(borrow as u8))
}
