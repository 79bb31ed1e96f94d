//! The RSA private-key operation (RSASP1, RFC 8017 §5.2.1) by the Chinese remainder theorem, on
//! the wasm-tuned Montgomery kernel in `monty`. About 2.3 ms per RSA-2048 signature in
//! V8 where the `rsa` crate takes about 5 ms. Every result is checked against the public key
//! before it leaves (s^e mod n = c; see [`Check`]), so a fault or a bug here yields an error,
//! never a wrong signature.
//!
//! Side channels: the arithmetic is constant time (see `monty`), and each signature also blinds
//! the exponents (d_p + r·(p−1) with a fresh 64-bit r), so no two signatures run the same
//! exponent even for the same message.

use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PublicKey};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::monty::{self, Limbs, Modulus, Residue};

/// Kernel size for the public check modulo n: moduli up to 2070 bits (RSA-2048).
const CHECK_LIMBS: usize = 74;

/// Bytes, and bits, of the random multiple of p−1 (q−1) added to each CRT exponent: at least
/// 64 bits, as CFRG guidance for exponent blinding asks.
const BLIND_BYTES: usize = 8;
const BLIND_BITS: usize = BLIND_BYTES * 8;

/// One prime's half of the CRT: its modulus, exponent and p−1 for blinding.
struct Half<const N: usize> {
    modulus: Modulus<N>,
    exponent: Limbs,
    minus_one: Limbs,
    /// Nibbles in a blinded exponent (fixed per key).
    nibbles: usize,
}

impl<const N: usize> Half<N> {
    fn new(prime: &[u8], exponent: &[u8], wide_limbs: usize) -> Option<Self> {
        let modulus = Modulus::new(prime, wide_limbs)?;
        let mut minus_one = monty::from_be_bytes(prime, N)?;
        // The prime is odd (Modulus::new checked), so p − 1 only clears the lowest bit.
        if let Some(low) = minus_one.first_mut() {
            *low &= !1;
        }
        Some(Self {
            exponent: monty::from_be_bytes(exponent, N)?,
            minus_one,
            nibbles: monty::nibble_count(monty::bit_length(prime) + BLIND_BITS),
            modulus,
        })
    }

    /// c^(d + r·(p−1)) mod p in Montgomery form (below 2p), for `c` as wide limbs.
    fn power(&self, c: &[u32], blind: &[u32]) -> Residue<N> {
        let blinded = monty::add_plain(&monty::mul_plain(blind, &self.minus_one), &self.exponent);
        let digits = monty::nibbles(&blinded, self.nibbles);
        self.modulus.pow(&self.modulus.enter_mont(c), &digits)
    }
}

/// The CRT key for primes of at most `N` limbs each.
struct Crt<const N: usize> {
    p: Half<N>,
    q: Half<N>,
    /// q⁻¹ mod p, plain (not Montgomery) form.
    qinv: Residue<N>,
    /// q as plain limbs, for the recombination m2 + h·q.
    q_plain: Limbs,
    /// Limbs of a value below the modulus n.
    wide_limbs: usize,
    /// Bytes of the modulus n.
    len: usize,
}

impl<const N: usize> Crt<N> {
    fn new(n: &[u8], p: &[u8], q: &[u8], dp: &[u8], dq: &[u8], qinv: &[u8]) -> Option<Self> {
        let bits = monty::bit_length(n);
        let wide_limbs = monty::limbs_for_bits(bits);
        Some(Self {
            p: Half::new(p, dp, wide_limbs)?,
            q: Half::new(q, dq, wide_limbs)?,
            qinv: monty::residue(&monty::from_be_bytes(qinv, N)?),
            q_plain: monty::from_be_bytes(q, N)?,
            wide_limbs,
            len: bits.div_ceil(8),
        })
    }

    fn private_op(&self, c: &[u8], [blind_p, blind_q]: &[Limbs; 2]) -> Option<Zeroizing<Vec<u8>>> {
        let c = monty::from_be_bytes(c, self.wide_limbs)?;
        let m1 = self.p.power(&c, blind_p);
        let m2 = self.q.modulus.leave_mont(&self.q.power(&c, blind_q));
        // h = (m1 − m2)·q⁻¹ mod p. In Montgomery form m1 is m1·R (< 2p) and m2·R (< p), so
        // m1·R + 2p − m2·R lies in (0, 4p); one Montgomery product with the plain q⁻¹ removes R.
        let p = &self.p.modulus;
        let difference = p.sub_lazy(&m1, &p.enter_mont(m2.as_slice()));
        let h = p.reduce_once(&p.mul(&difference, &self.qinv));
        // m = m2 + h·q < q + (p−1)·q = n.
        let m = monty::add_plain(
            &monty::mul_plain(h.as_slice(), &self.q_plain),
            m2.as_slice(),
        );
        monty::to_be_bytes(&m, self.len)
    }
}

/// A two-prime RSA private key in CRT form, ready for [`CrtKey::private_op`].
pub struct CrtKey {
    sized: KernelSize,
    check: Check,
}

/// How a signature is checked before it leaves: s^e mod n must give back c. On the kernel
/// modulo n when n fits it (a different modulus from the primes the signature was made with, so
/// a wrong result cannot pass by repeating the same mistake), else with the `rsa` crate.
enum Check {
    Kernel {
        n: Box<Modulus<CHECK_LIMBS>>,
        e: Vec<u8>,
    },
    Backend(PublicKey),
}

/// The kernel comes in three fixed sizes; a key takes the smallest that holds its primes.
enum KernelSize {
    /// Primes up to 1034 bits (RSA-2048).
    Limbs37(Box<Crt<37>>),
    /// Primes up to 1538 bits (RSA-3072).
    Limbs55(Box<Crt<55>>),
    /// Primes up to 2070 bits (RSA-4096).
    Limbs74(Box<Crt<74>>),
}

impl CrtKey {
    /// From the big-endian modulus and CRT members (JWK `n`, `p`, `q`, `dp`, `dq`, `qi`). `None`
    /// when a prime is too large for the kernel or a member does not fit: the caller then keeps
    /// the `rsa` crate's own private operation.
    pub fn new(public: &PublicKey, [p, q, dp, dq, qinv]: [&[u8]; 5]) -> Option<Self> {
        let n = public.n_bytes();
        let n = n.as_ref();
        let e = public.e_bytes().to_vec();
        let check = match Modulus::new(n, monty::limbs_for_bits(monty::bit_length(n))) {
            Some(modulus) => Check::Kernel {
                n: Box::new(modulus),
                e,
            },
            None => Check::Backend(public.clone()),
        };
        let sized = if let Some(key) = Crt::<37>::new(n, p, q, dp, dq, qinv) {
            KernelSize::Limbs37(Box::new(key))
        } else if let Some(key) = Crt::<55>::new(n, p, q, dp, dq, qinv) {
            KernelSize::Limbs55(Box::new(key))
        } else {
            KernelSize::Limbs74(Box::new(Crt::<74>::new(n, p, q, dp, dq, qinv)?))
        };
        Some(Self { sized, check })
    }

    /// c^d mod n for the big-endian `c` (the encoded message, below n), as big-endian bytes of
    /// the modulus length, checked against the public key. `None` when the system RNG fails,
    /// `c` is not below n, or the check fails (a fault: the signature is withheld).
    pub fn private_op(&self, c: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let blinds = random_blinds()?;
        let signature = match &self.sized {
            KernelSize::Limbs37(key) => key.private_op(c, &blinds),
            KernelSize::Limbs55(key) => key.private_op(c, &blinds),
            KernelSize::Limbs74(key) => key.private_op(c, &blinds),
        }?;
        self.check.passes(&signature, c).then_some(signature)
    }
}

impl Check {
    /// s^e mod n == c, for big-endian `s` and `c`.
    fn passes(&self, s: &[u8], c: &[u8]) -> bool {
        match self {
            Self::Kernel { n, e } => {
                let limbs = |x: &[u8]| monty::from_be_bytes(x, CHECK_LIMBS);
                let (Some(s), Some(c)) = (limbs(s), limbs(c)) else {
                    return false;
                };
                let recovered = n.leave_mont(&n.pow_public_vartime(&n.enter_mont(&s), e));
                bool::from(recovered.as_slice().ct_eq(c.as_slice()))
            }
            Self::Backend(public) => {
                let precision = public.n_bits_precision();
                let uint = |x: &[u8]| BoxedUint::from_be_slice(x, precision).ok();
                let (Some(s), Some(c)) = (uint(s), uint(c)) else {
                    return false;
                };
                rsa::hazmat::rsa_encrypt(public, &s).is_ok_and(|recovered| recovered == c)
            }
        }
    }
}

/// Two fresh blinding factors of `BLIND_BITS` bits as limbs.
fn random_blinds() -> Option<[Limbs; 2]> {
    let mut bytes = Zeroizing::new([0u8; 2 * BLIND_BYTES]);
    getrandom::fill(bytes.as_mut_slice()).ok()?;
    let (a, b) = bytes.split_at(BLIND_BYTES);
    Some([
        monty::from_be_bytes(a, monty::limbs_for_bits(BLIND_BITS))?,
        monty::from_be_bytes(b, monty::limbs_for_bits(BLIND_BITS))?,
    ])
}
