//! The RSA private-key operation (RSASP1, RFC 8017 §5.2.1) by the Chinese remainder theorem, on
//! the wasm-tuned Montgomery kernel in `monty`. About 2.5 ms per RSA-2048 signature in
//! V8 14.6 where the `rsa` crate's private operation takes about 8 ms. Every result is checked against the public key
//! before it leaves (s^e mod n = c; see [`passes`]), so a fault or a bug here yields an error,
//! never a wrong signature.
//!
//! Side channels: the arithmetic is constant time (see `monty`), and each signature is blinded
//! twice, as the `rsa` crate and OpenSSL do:
//! - the exponents: d_p + k·(p−1) with a fresh 64-bit k (CFRG's floor for exponent blinding),
//!   so no two signatures run the same exponent even for the same message;
//! - the base: the exponentiation modulo p runs on c·r^e, not on c, and its result is multiplied
//!   by r⁻¹ (r^e·d_p ≡ r). The pair (r^e, r⁻¹) is kept per prime, squared after every use and
//!   drawn afresh every [`PAIR_USES`] uses (OpenSSL's `BN_BLINDING` scheme: a fresh pair costs an
//!   exponentiation, squaring costs two products). Blinding per prime rather than modulo n lets
//!   every key the kernel holds, RSA-4096 included, stay on the kernel; the reduction of c modulo
//!   p before it is blinded is constant time like the rest.

use std::sync::Mutex;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::monty::{self, Limbs, Modulus, Residue};
use crate::public::PublicOp;

/// Bytes, and bits, of the random multiple of p−1 (q−1) added to each CRT exponent: at least
/// 64 bits, as CFRG guidance for exponent blinding asks.
const BLIND_BYTES: usize = 8;
const BLIND_BITS: usize = BLIND_BYTES * 8;
/// Signatures one base-blinding pair serves (squared in between) before a fresh one is drawn.
const PAIR_USES: u32 = 32;
/// Extra random bytes beyond a prime's length when drawing r, so r mod p is near uniform.
const PAIR_EXTRA_BYTES: usize = 8;

/// The base blinding of one prime: r^e and r⁻¹ modulo p, in Montgomery form, for an r drawn
/// from the system RNG and never stored.
#[derive(Clone)]
struct Pair<const N: usize> {
    blind: Residue<N>,
    unblind: Residue<N>,
}

/// What one signature runs on, recorded by the kernel's own tests only: they check that
/// blinding is really there (a removed blinding leaves every signature correct).
#[cfg(test)]
pub(crate) mod trace {
    use std::cell::RefCell;

    /// One exponentiation modulo a prime: the base it ran on (plain, below p) and the exponent.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) struct Exponentiation {
        pub base: Vec<u32>,
        pub exponent: Vec<u8>,
    }

    thread_local! {
        pub(crate) static RUNS: RefCell<Vec<Exponentiation>> = const { RefCell::new(Vec::new()) };
    }

    pub(crate) fn record(base: &[u32], exponent: &[u8]) {
        let run = Exponentiation {
            base: base.to_vec(),
            exponent: exponent.to_vec(),
        };
        RUNS.with(|runs| runs.borrow_mut().push(run));
    }

    pub(crate) fn take() -> Vec<Exponentiation> {
        RUNS.with(|runs| std::mem::take(&mut *runs.borrow_mut()))
    }
}

/// One prime's half of the CRT: its modulus, exponent and p−1 for blinding.
struct Half<const N: usize> {
    modulus: Modulus<N>,
    exponent: Limbs,
    minus_one: Limbs,
    /// Nibbles in a blinded exponent (fixed per key).
    nibbles: usize,
    /// The public exponent e, big-endian: r^e of the base blinding.
    e: Vec<u8>,
    /// p − 2 as nibbles: r⁻¹ = r^(p−2) mod p (Fermat), in constant time.
    inverse_exponent: Zeroizing<Vec<u8>>,
    /// Random bytes drawn for r.
    random_len: usize,
    /// The current base-blinding pair and its uses; `None` until the first signature.
    pair: Mutex<Option<(Pair<N>, u32)>>,
}

impl<const N: usize> Half<N> {
    fn new(prime: &[u8], exponent: &[u8], e: &[u8], wide_limbs: usize) -> Option<Self> {
        let modulus = Modulus::new(prime, wide_limbs)?;
        let mut minus_one = monty::from_be_bytes(prime, N)?;
        // The prime is odd (Modulus::new checked), so p − 1 only clears the lowest bit.
        if let Some(low) = minus_one.first_mut() {
            *low &= !1;
        }
        let bits = monty::bit_length(prime);
        let minus_two = monty::sub_small(&minus_one, 1);
        Some(Self {
            exponent: monty::from_be_bytes(exponent, N)?,
            minus_one,
            nibbles: monty::nibble_count(bits + BLIND_BITS),
            e: e.to_vec(),
            inverse_exponent: monty::nibbles(&minus_two, monty::nibble_count(bits)),
            random_len: prime.len() + PAIR_EXTRA_BYTES,
            pair: Mutex::new(None),
            modulus,
        })
    }

    /// A fresh pair (r^e, r⁻¹) for a random r modulo p. `None` when the system RNG fails.
    fn fresh_pair(&self) -> Option<Pair<N>> {
        let mut bytes = Zeroizing::new(vec![0u8; self.random_len]);
        getrandom::fill(bytes.as_mut_slice()).ok()?;
        let limbs = monty::limbs_for_bits(self.random_len * 8);
        // enter_mont gives r·R mod p: the Montgomery form of r, what pow takes.
        let r = self
            .modulus
            .enter_mont(&monty::from_be_bytes(&bytes, limbs)?);
        Some(Pair {
            blind: self.modulus.pow_public_vartime(&r, &self.e),
            unblind: self.modulus.pow(&r, &self.inverse_exponent),
        })
    }

    /// The pair for this signature, leaving its square (or, after `PAIR_USES`, nothing) for the
    /// next one. `None` when the system RNG fails.
    fn next_pair(&self) -> Option<Pair<N>> {
        // A poisoned lock (a panic elsewhere) only loses the cached pair: draw a fresh one.
        let Ok(mut slot) = self.pair.lock() else {
            return self.fresh_pair();
        };
        let (pair, uses) = match slot.take() {
            Some((pair, uses)) if uses < PAIR_USES => (pair, uses),
            _ => (self.fresh_pair()?, 0),
        };
        let m = &self.modulus;
        let squared = Pair {
            blind: m.mul(&pair.blind, &pair.blind),
            unblind: m.mul(&pair.unblind, &pair.unblind),
        };
        *slot = Some((squared, uses + 1));
        Some(pair)
    }

    /// c^(d + k·(p−1)) mod p in Montgomery form (below 2p), for `c` as wide limbs, run on the
    /// blinded base c·r^e and unblinded by r⁻¹. `None` when the system RNG fails.
    fn power(&self, c: &[u32], blind: &[u32]) -> Option<Residue<N>> {
        let m = &self.modulus;
        let pair = self.next_pair()?;
        let blinded = monty::add_plain(&monty::mul_plain(blind, &self.minus_one), &self.exponent);
        let digits = monty::nibbles(&blinded, self.nibbles);
        let base = m.mul(&m.enter_mont(c), &pair.blind);
        #[cfg(test)]
        trace::record(m.leave_mont(&base).as_slice(), &digits);
        Some(m.mul(&m.pow(&base, &digits), &pair.unblind))
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
    fn new(n: &[u8], e: &[u8], [p, q, dp, dq, qinv]: [&[u8]; 5]) -> Option<Self> {
        let bits = monty::bit_length(n);
        let wide_limbs = monty::limbs_for_bits(bits);
        Some(Self {
            p: Half::new(p, dp, e, wide_limbs)?,
            q: Half::new(q, dq, e, wide_limbs)?,
            qinv: monty::residue(&monty::from_be_bytes(qinv, N)?),
            q_plain: monty::from_be_bytes(q, N)?,
            wide_limbs,
            len: bits.div_ceil(8),
        })
    }

    fn private_op(&self, c: &[u8], [blind_p, blind_q]: &[Limbs; 2]) -> Option<Zeroizing<Vec<u8>>> {
        let c = monty::from_be_bytes(c, self.wide_limbs)?;
        let m1 = self.p.power(&c, blind_p)?;
        let m2 = self.q.modulus.leave_mont(&*self.q.power(&c, blind_q)?);
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
    /// s^e mod n must give back c before a signature leaves. It runs modulo n, a different
    /// modulus from the primes the signature was made with, so a wrong result cannot pass by
    /// repeating the same mistake.
    check: PublicOp,
}

/// The kernel comes in four fixed sizes; a key takes the smallest that holds its primes.
enum KernelSize {
    /// Primes up to 1034 bits (RSA-2048).
    Limbs37(Box<Crt<37>>),
    /// Primes up to 1538 bits (RSA-3072).
    Limbs55(Box<Crt<55>>),
    /// Primes up to 2070 bits (RSA-4096).
    Limbs74(Box<Crt<74>>),
    /// Primes up to 3078 bits (RSA-6144), the column bound's last size.
    Limbs110(Box<Crt<110>>),
}

impl CrtKey {
    /// From the big-endian modulus `n`, public exponent `e` and CRT members (JWK `p`, `q`, `dp`,
    /// `dq`, `qi`). `None` when a prime is too large for the kernel (above 3078 bits) or a
    /// member does not fit: the caller refuses the key.
    pub fn new(n: &[u8], e: &[u8], members: [&[u8]; 5]) -> Option<Self> {
        let check = PublicOp::new(n, e)?;
        let sized = if let Some(key) = Crt::<37>::new(n, e, members) {
            KernelSize::Limbs37(Box::new(key))
        } else if let Some(key) = Crt::<55>::new(n, e, members) {
            KernelSize::Limbs55(Box::new(key))
        } else if let Some(key) = Crt::<74>::new(n, e, members) {
            KernelSize::Limbs74(Box::new(key))
        } else {
            KernelSize::Limbs110(Box::new(Crt::<110>::new(n, e, members)?))
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
            KernelSize::Limbs110(key) => key.private_op(c, &blinds),
        }?;
        passes(&self.check, &signature, c).then_some(signature)
    }
}

/// The private-key checks of RFC 8017 §3.2 that the `rsa` crate makes, on big-endian members:
/// d < n; p and q odd, at least 3, distinct, each at most ⌈bits(n)/2⌉ bits; p·q = n; and
/// d·e ≡ 1 modulo p − 1 and q − 1. The arithmetic is constant time (products, `monty::rem`,
/// masked comparisons); only the one answer, and the members' lengths, are revealed.
pub fn consistent(n: &[u8], e: &[u8], d: &[u8], p: &[u8], q: &[u8]) -> bool {
    let n_bits = monty::bit_length(n);
    let half = n_bits.div_ceil(2);
    let prime_ok = |x: &[u8]| {
        let bits = monty::bit_length(x);
        (2..=half).contains(&bits) && x.last().is_some_and(|b| b & 1 == 1)
    };
    if !prime_ok(p) || !prime_ok(q) {
        return false;
    }
    let width = monty::limbs_for_bits(n_bits.max(8 * d.len()).max(8 * p.len()) + 1);
    let limbs = |x: &[u8]| monty::from_be_bytes(x, width);
    let (Some(n), Some(d), Some(p), Some(q)) = (limbs(n), limbs(d), limbs(p), limbs(q)) else {
        return false;
    };
    let Some(e) = monty::from_be_bytes(e, monty::limbs_for_bits(e.len() * 8)) else {
        return false;
    };
    let mut one = monty::from_be_bytes(&[1], width).unwrap_or_default();
    one.resize(width, 0);
    let de = monty::mul_plain(&d, &e);
    let congruent = |prime: &[u32]| {
        let minus_one = monty::sub_small(prime, 1);
        let r = monty::rem(&de, &minus_one);
        r.ct_eq(one.as_slice())
    };
    let product = monty::mul_plain(&p, &q);
    let product_is_n = product
        .get(..width)
        .map_or(Choice::from(0), |low| low.ct_eq(n.as_slice()))
        & product
            .iter()
            .skip(width)
            .fold(Choice::from(1), |all, &l| all & l.ct_eq(&0));
    bool::from(
        monty::less_than(&d, &n)
            & !p.ct_eq(q.as_slice())
            & product_is_n
            & congruent(&p)
            & congruent(&q),
    )
}

/// d mod (p − 1), d mod (q − 1) and q⁻¹ mod p (RFC 8017 §3.2), big-endian, each as long as
/// its prime. The remainders are bit-serial with masked subtractions (`monty::rem`), the inverse
/// is q^(p−2) mod p (Fermat) on the constant-time window exponentiation: nothing branches on,
/// or indexes by, a secret. `None` when a prime is even, below 3, or too wide for the kernel.
pub fn crt_members(d: &[u8], p: &[u8], q: &[u8]) -> Option<[Zeroizing<Vec<u8>>; 3]> {
    let limbs = |x: &[u8]| monty::from_be_bytes(x, monty::limbs_for_bits(x.len() * 8));
    let d = limbs(d)?;
    let exponent = |prime: &[u8]| -> Option<Zeroizing<Vec<u8>>> {
        let minus_one = monty::sub_small(&limbs(prime)?, 1);
        monty::to_be_bytes(&monty::rem(&d, &minus_one), prime.len())
    };
    let qi = inverse::<37>(p, q)
        .or_else(|| inverse::<55>(p, q))
        .or_else(|| inverse::<74>(p, q))
        .or_else(|| inverse::<110>(p, q))?;
    Some([exponent(p)?, exponent(q)?, qi])
}

/// q⁻¹ mod p = q^(p−2) mod p for an odd prime p of at most `N` limbs, big-endian, as long as p.
fn inverse<const N: usize>(p: &[u8], q: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let wide = monty::limbs_for_bits(q.len() * 8);
    let modulus = Modulus::<N>::new(p, wide)?;
    let minus_two = monty::sub_small(&monty::from_be_bytes(p, N)?, 2);
    let exponent = monty::nibbles(&minus_two, monty::nibble_count(monty::bit_length(p)));
    let q = modulus.enter_mont(&monty::from_be_bytes(q, wide)?);
    let plain = modulus.leave_mont(&modulus.pow(&q, &exponent));
    monty::to_be_bytes(plain.as_slice(), p.len())
}

/// s^e mod n == c, for big-endian `s` and `c` (c may be a byte shorter than n: EMSA-PSS).
fn passes(public: &PublicOp, s: &[u8], c: &[u8]) -> bool {
    let Some(padding) = public.len().checked_sub(c.len()) else {
        return false;
    };
    let mut want = vec![0u8; padding];
    want.extend_from_slice(c);
    public
        .apply(s)
        .is_some_and(|recovered| bool::from(recovered.ct_eq(&want)))
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

#[cfg(test)]
#[allow(
    clippy::integer_division_remainder_used,
    reason = "test oracle, no secret"
)]
mod tests {
    use super::*;
    use crate::{pad, Hash};
    use num_bigint::BigUint;
    use rsa::pkcs1::{RsaPrivateKeyRef, UintRef};
    use rsa::pkcs8::der::Decode as _;
    use std::collections::HashSet;

    /// n, e, d, p, q, dp, dq, qi of the fixture key `rsa2048_pkcs8.pem`.
    fn members() -> [Vec<u8>; 8] {
        let path = format!(
            "{}/../tests/fixtures/jose/rsa2048_pkcs8.pem",
            env!("CARGO_MANIFEST_DIR")
        );
        let pem = std::fs::read_to_string(path).unwrap();
        let (_, der) = rsa::pkcs8::Document::from_pem(&pem).unwrap();
        let info = rsa::pkcs8::PrivateKeyInfoRef::try_from(der.as_bytes()).unwrap();
        let k = RsaPrivateKeyRef::from_der(info.private_key.as_bytes()).unwrap();
        let member = |u: UintRef<'_>| u.as_bytes().to_vec();
        [
            k.modulus,
            k.public_exponent,
            k.private_exponent,
            k.prime1,
            k.prime2,
            k.exponent1,
            k.exponent2,
            k.coefficient,
        ]
        .map(member)
    }

    fn big(bytes: &[u8]) -> BigUint {
        BigUint::from_bytes_be(bytes)
    }

    fn from_limbs(limbs: &[u32]) -> BigUint {
        big(&monty::to_be_bytes(limbs, limbs.len() * 4).unwrap())
    }

    fn from_nibbles(nibbles: &[u8]) -> BigUint {
        nibbles
            .iter()
            .fold(BigUint::from(0u8), |acc, &d| (acc << 4) + d)
    }

    /// The CRT members computed from d, p, q are the key file's (written by OpenSSL), and a key
    /// built from them signs as the one built from the file's members.
    #[test]
    fn crt_members_from_d_p_q_are_the_key_files() {
        let [n, e, d, p, q, dp, dq, qi] = members();
        let [got_dp, got_dq, got_qi] = crt_members(&d, &p, &q).unwrap();
        let big_of = |x: &[u8]| big(x);
        assert_eq!(big_of(&got_dp), big(&dp));
        assert_eq!(big_of(&got_dq), big(&dq));
        assert_eq!(big_of(&got_qi), big(&qi));
        let c = pad::pkcs1v15(Hash::Sha256, &[9u8; 32], n.len()).unwrap();
        let ours = CrtKey::new(&n, &e, [&p, &q, &got_dp, &got_dq, &got_qi]).unwrap();
        let theirs = CrtKey::new(&n, &e, [&p, &q, &dp, &dq, &qi]).unwrap();
        assert_eq!(ours.private_op(&c).unwrap(), theirs.private_op(&c).unwrap());
    }

    /// Removing either blinding leaves every signature correct, so the kernel's trace is checked
    /// instead: every exponentiation modulo a prime runs on an exponent that is a multiple of
    /// p − 1 away from d_p (never d_p itself, never twice the same), and on a base c·t with
    /// t = r^e ≠ 1, squared from one signature to the next and drawn afresh every `PAIR_USES`.
    #[test]
    fn every_exponentiation_runs_blinded_exponent_and_base() {
        let [n, e, d, p, q, dp, dq, qi] = members();
        let key = CrtKey::new(&n, &e, [&p, &q, &dp, &dq, &qi]).unwrap();
        let c = pad::pkcs1v15(Hash::Sha256, &[7u8; 32], n.len()).unwrap();
        let want = big(&c).modpow(&big(&d), &big(&n));
        let signatures = 2 * PAIR_USES as usize + 3;
        trace::take();
        for _ in 0..signatures {
            assert_eq!(big(&key.private_op(&c).unwrap()), want);
        }
        let runs = trace::take();
        assert_eq!(runs.len(), 2 * signatures);
        for (half, (prime, d_half)) in [(&p, &dp), (&q, &dq)].into_iter().enumerate() {
            let (prime, d_half) = (big(prime), big(d_half));
            let one = BigUint::from(1u8);
            let c_inverse = (big(&c) % &prime).modpow(&(&prime - 2u8), &prime);
            let mine: Vec<_> = runs.iter().skip(half).step_by(2).collect();
            let mut previous_t: Option<BigUint> = None;
            for (k, run) in mine.iter().enumerate() {
                let exponent = from_nibbles(&run.exponent);
                assert_eq!(&exponent % (&prime - 1u8), d_half, "run {k}");
                assert_ne!(exponent, d_half, "run {k}: exponent not blinded");
                let t = from_limbs(&run.base) * &c_inverse % &prime;
                assert_ne!(t, one, "run {k}: base not blinded");
                if let Some(previous) = previous_t {
                    let squared = previous.modpow(&BigUint::from(2u8), &prime);
                    let fresh = k % PAIR_USES as usize == 0;
                    assert_eq!(t != squared, fresh, "run {k}: pair schedule");
                }
                previous_t = Some(t);
            }
            let exponents: HashSet<_> = mine.iter().map(|r| &r.exponent).collect();
            let bases: HashSet<_> = mine.iter().map(|r| &r.base).collect();
            assert_eq!(exponents.len(), signatures, "an exponent repeated");
            assert_eq!(bases.len(), signatures, "a base repeated");
        }
    }
}
