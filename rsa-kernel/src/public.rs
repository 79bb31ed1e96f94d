//! The RSA public operation (RSAVP1, RFC 8017 §5.2.2) on the Montgomery kernel: signature
//! verification, and the self-check of every signature the kernel makes.
//!
//! Nothing here is secret (the signature, the modulus and `e` are all public), so this may, and
//! does, run in variable time: square and multiply over the bits of `e` on the plain signature,
//! then one product by R^e mod n ([`Modulus::pow_plain_public_vartime`]). It is the kernel's
//! arithmetic, so about four times faster in V8 than the `rsa` crate's `crypto-bigint` for an
//! RSA-2048 verification. Moduli wider than its fixed sizes (RSA-4096 and up) run on
//! [`crate::wide`], its runtime-sized sibling.

use crate::monty::{self, Modulus, Residue};
use crate::wide::WideModulus;
use zeroize::Zeroizing;

/// An RSA public key on the kernel: the fixed sizes for moduli up to 3078 bits (RSA-2048 and
/// RSA-3072), the runtime-sized `wide` arithmetic above (up to 16384 bits).
pub struct PublicOp {
    sized: Sized,
    /// The modulus, big-endian without leading zeros: a signature must be below it.
    n: Vec<u8>,
}

/// The kernel in the smallest size that holds the modulus (R > 4n).
enum Sized {
    /// Moduli up to 2016 + 54 bits (RSA-2048).
    Limbs74(Box<Power<74>>),
    /// Moduli up to 3078 bits (RSA-3072).
    Limbs110(Box<Power<110>>),
    /// Wider moduli, beyond the fixed sizes' column bound; `e` kept beside.
    Wide(Box<WideModulus>, Vec<u8>),
}

/// The modulus and the public exponent, with R^e mod n computed once per key (about one
/// verification's work): kept together, so the constant always belongs to its `e`.
struct Power<const N: usize> {
    modulus: Modulus<N>,
    /// The public exponent, big-endian.
    e: Vec<u8>,
    r_to_e: Residue<N>,
}

impl<const N: usize> Power<N> {
    fn new(n: &[u8], e: &[u8], wide: usize) -> Option<Self> {
        let modulus = Modulus::<N>::new(n, wide)?;
        let r_to_e = modulus.r_power_public(e);
        Some(Self {
            modulus,
            e: e.to_vec(),
            r_to_e,
        })
    }

    /// s^e mod n as `len` big-endian bytes, for `s < n`.
    fn apply(&self, s: &[u8], len: usize) -> Option<Zeroizing<Vec<u8>>> {
        let base = monty::residue::<N>(&monty::from_be_bytes(s, N)?);
        let x = self
            .modulus
            .pow_plain_public_vartime(&base, &self.e, &self.r_to_e);
        monty::to_be_bytes(x.as_slice(), len)
    }
}

impl PublicOp {
    /// From the big-endian modulus and public exponent. `None` for an even modulus, a zero
    /// exponent, or a modulus above 16384 bits.
    pub fn new(n: &[u8], e: &[u8]) -> Option<Self> {
        let n = trim(n);
        let e = trim(e);
        if e.is_empty() {
            return None;
        }
        let wide = monty::limbs_for_bits(n.len() * 8);
        let sized = if let Some(p) = Power::<74>::new(n, e, wide) {
            Sized::Limbs74(Box::new(p))
        } else if let Some(p) = Power::<110>::new(n, e, wide) {
            Sized::Limbs110(Box::new(p))
        } else {
            Sized::Wide(Box::new(WideModulus::new(n)?), e.to_vec())
        };
        Some(Self {
            sized,
            n: n.to_vec(),
        })
    }

    /// Bytes of the modulus: the length of every signature (RFC 8017 §8.2.2 step 1).
    pub fn len(&self) -> usize {
        self.n.len()
    }

    /// Never true (a modulus has at least one byte); here for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.n.is_empty()
    }

    /// s^e mod n as `len()` big-endian bytes. `None` when `s` is not exactly `len()` bytes or
    /// not below n (RSAVP1 step 1: "signature representative out of range").
    pub fn apply(&self, s: &[u8]) -> Option<Vec<u8>> {
        // Equal lengths: big-endian byte order is numeric order.
        if s.len() != self.n.len() || s >= self.n.as_slice() {
            return None;
        }
        let out = match &self.sized {
            Sized::Limbs74(p) => p.apply(s, self.n.len()).map(|x| x.to_vec()),
            Sized::Limbs110(p) => p.apply(s, self.n.len()).map(|x| x.to_vec()),
            Sized::Wide(m, e) => m.pow(s, e, self.n.len()),
        }?;
        Some(out)
    }
}

/// Big-endian bytes without leading zeros.
fn trim(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}
