//! The RSA public operation (RSAVP1, RFC 8017 §5.2.2) on the Montgomery kernel: signature
//! verification, and the self-check of every signature the kernel makes.
//!
//! Nothing here is secret (the signature, the modulus and `e` are all public), so this may, and
//! does, run in variable time: square and multiply over the bits of `e` on the plain signature,
//! then one product by R^e mod n ([`Modulus::pow_plain_public_vartime`]); PKCS#1 v1.5
//! verification skips that product and compares in the chain's scale instead ([`Scaled`]). It
//! is the kernel's arithmetic, so about four times faster in V8 than the `rsa` crate's
//! `crypto-bigint` for an RSA-2048 verification. Moduli wider than its fixed sizes (RSA-4096
//! and up) run on [`crate::wide`], its runtime-sized sibling.

use crate::monty::{self, Modulus, Residue};
use crate::pad;
use crate::wide::WideModulus;
use crate::Hash;
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
/// verification's work): kept together, so the constant always belongs to its `e`. Beside them,
/// the PKCS#1 v1.5 encodings in the chain's scale, one per hash.
struct Power<const N: usize> {
    modulus: Modulus<N>,
    /// The public exponent, big-endian.
    e: Vec<u8>,
    r_to_e: Residue<N>,
    /// SHA-256, SHA-384, SHA-512; `None` where the modulus is too short for the encoding.
    scaled: [Option<Scaled<N>>; 3],
}

/// An EMSA-PKCS1-v1_5 encoding for one hash and this key, times K = R^−(e−1) mod n.
///
/// Square and multiply on the plain signature leaves s^e·K (see
/// [`Modulus::pow_plain_public_vartime`]); the product by R^e that turns it into s^e costs a
/// full product, about 4 µs of an RSA-2048 verification in V8. K is invertible mod n, so
/// s^e ≡ EM exactly when s^e·K ≡ EM·K, and EM < n (its top byte is 00), so that congruence is
/// the equality the verification needs. EM is a constant C (the encoding with a zero digest)
/// plus the digest H in its low bytes, so EM·K = C·K + H·K: C·K is kept here, and H·K is one
/// short product of the digest's few limbs by K·2^(28L).
struct Scaled<const N: usize> {
    /// C·K mod n.
    fixed: Residue<N>,
    /// K·2^(28L) mod n, L the digest's limbs.
    per_digest: Residue<N>,
    /// The digest's bytes.
    digest_len: usize,
}

impl<const N: usize> Scaled<N> {
    /// For a modulus of `len` bytes; `k` = K mod n and `k_mont` its Montgomery form.
    fn new(
        m: &Modulus<N>,
        hash: Hash,
        len: usize,
        k: &Residue<N>,
        k_mont: &Residue<N>,
    ) -> Option<Self> {
        let digest_len = digest_len(hash);
        let fixed = monty::from_be_bytes(&pad::pkcs1v15(hash, &vec![0; digest_len], len)?, N)?;
        let fixed = m.reduce_once(&m.mul(&monty::residue(&fixed), k_mont));
        let digest_limbs = monty::limbs_for_bits(8 * digest_len);
        let mut unit = vec![0u32; digest_limbs + 1];
        *unit.last_mut()? = 1;
        // 2^(28L)·R mod n, then times K·R⁻¹.
        let per_digest = m.reduce_once(&m.mul(k, &m.enter_mont(&unit)));
        Some(Self {
            fixed,
            per_digest,
            digest_len,
        })
    }

    /// EM·K mod n for the digest `hashed` (which must have the hash's length).
    fn target(&self, m: &Modulus<N>, hashed: &[u8]) -> Option<Residue<N>> {
        if hashed.len() != self.digest_len {
            return None;
        }
        let h = monty::from_be_bytes(hashed, monty::limbs_for_bits(8 * self.digest_len))?;
        let hk = m.mul_short(&h, &self.per_digest);
        // C·K + H·K is below 3n: two subtractions at most.
        let sum = monty::residue(&monty::add_plain(self.fixed.as_slice(), hk.as_slice()));
        Some(m.reduce_once(&m.reduce_once(&sum)))
    }
}

/// The digest's length in bytes.
fn digest_len(hash: Hash) -> usize {
    match hash {
        Hash::Sha256 => 32,
        Hash::Sha384 => 48,
        Hash::Sha512 => 64,
    }
}

/// The hash's slot in [`Power`]'s `scaled`.
fn hash_index(hash: Hash) -> usize {
    match hash {
        Hash::Sha256 => 0,
        Hash::Sha384 => 1,
        Hash::Sha512 => 2,
    }
}

impl<const N: usize> Power<N> {
    fn new(n: &[u8], e: &[u8], wide: usize) -> Option<Self> {
        let modulus = Modulus::<N>::new(n, wide)?;
        let r_to_e = modulus.r_power_public(e);
        // K = 1^e·R^−(e−1): the chain run on a plain 1.
        let k = modulus.reduce_once(&modulus.pow_public_vartime(&monty::residue(&[1]), e));
        let k_mont = modulus.enter_mont(k.as_slice());
        let scaled = [Hash::Sha256, Hash::Sha384, Hash::Sha512]
            .map(|hash| Scaled::new(&modulus, hash, n.len(), &k, &k_mont));
        Some(Self {
            modulus,
            e: e.to_vec(),
            r_to_e,
            scaled,
        })
    }

    /// RSASSA-PKCS1-v1_5 verification for `s < n` of `len` bytes, in the chain's scale (see
    /// [`Scaled`]): s^e·K against EM·K.
    fn verify_pkcs1v15(&self, hash: Hash, hashed: &[u8], s: &[u8]) -> Option<bool> {
        let scaled = self.scaled.get(hash_index(hash))?.as_ref()?;
        let want = scaled.target(&self.modulus, hashed)?;
        let base = monty::residue::<N>(&monty::from_be_bytes(s, N)?);
        let m = &self.modulus;
        let got = m.reduce_once(&m.pow_public_vartime(&base, &self.e));
        Some(got == want)
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
        if !self.in_range(s) {
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

impl PublicOp {
    /// `s` is a signature representative: exactly `len()` bytes and below n (RSAVP1 step 1).
    fn in_range(&self, s: &[u8]) -> bool {
        // Equal lengths: big-endian byte order is numeric order.
        s.len() == self.n.len() && s < self.n.as_slice()
    }

    /// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) of signature `s` over the digest
    /// `hashed`: true exactly when `s` is in range and s^e mod n is the encoding of `hashed`,
    /// as [`Self::apply`] followed by [`pad::pkcs1v15_verify`] answers; false for a digest not
    /// of the hash's length. On the fixed sizes the comparison runs in the square-and-multiply chain's
    /// own scale, one product shorter (see [`Scaled`]).
    pub fn verify_pkcs1v15(&self, hash: Hash, hashed: &[u8], s: &[u8]) -> bool {
        if !self.in_range(s) || hashed.len() != digest_len(hash) {
            return false;
        }
        let verdict = match &self.sized {
            Sized::Limbs74(p) => p.verify_pkcs1v15(hash, hashed, s),
            Sized::Limbs110(p) => p.verify_pkcs1v15(hash, hashed, s),
            Sized::Wide(..) => self
                .apply(s)
                .map(|em| pad::pkcs1v15_verify(hash, hashed, &em)),
        };
        verdict.unwrap_or(false)
    }
}

/// Big-endian bytes without leading zeros.
fn trim(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}
