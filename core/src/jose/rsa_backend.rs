//! RSA private keys: parsed from DER (PKCS#1 RSAPrivateKey, PKCS#8) or JWK members, checked,
//! encoded back, and signed with on the filter's own kernel (crate `jwt-relay-rsa`). Public keys
//! and verification live in `rsa_public`; the helpers both share are here. None of it uses the
//! `rsa` crate (or its big integers), which stays the tests' reference and the key generator of
//! the command-line tool (feature `keygen`).
//!
//! Checks: those of the `rsa` crate, so a key is refused here when it was refused there (a test
//! holds the two to it): the public ones (`rsa_public::well_formed`), then d < n, p and q odd,
//! distinct, each at most half the modulus's bits, p·q = n, d·e ≡ 1 modulo p − 1 and q − 1
//! (`jwt_relay_rsa::consistent`, in constant time). The CRT members are recomputed from d, p
//! and q (a file's own are ignored, as the crate ignored them), and the key signs one value at
//! load, checked against the public key, so a key that cannot sign is refused then, not at
//! every request.
//!
//! Signing: `jwt_relay_rsa::pad` encodes (EMSA-PKCS1-v1_5 or EMSA-PSS, salt from the system
//! RNG), and `CrtKey` runs the private operation in constant time with blinded exponents and
//! checks the result against the public key: about 2.5 ms per RSA-2048 signature in V8, where the
//! `rsa` crate took about 8 ms. The kernel holds primes up to 3078 bits (RSA-6144); larger
//! signing keys are refused at load (verification takes moduli up to 8192 bits).

use pkcs1::der::asn1::OctetStringRef;
use pkcs1::der::{Decode as _, Encode as _};
use pkcs1::{RsaPrivateKeyRef, UintRef, Version};
use sha2::{Digest, Sha384, Sha512};
use std::sync::Arc;
use zeroize::Zeroizing;

use super::alg::Sha;
use super::rsa_public::{rsa_algorithm, well_formed, RsaPublic};
use super::{Algorithm, JoseError};
use jwt_relay_rsa::{pad as rsa_pad, CrtKey};

/// Smallest modulus accepted, in bits. RFC 7518 §3.3 and §3.5 ask for 2048 or larger, but a
/// product of two 1024-bit primes is 2047 bits about half the time, and Kong verifies with such
/// keys (its own RS512 test key is one). 2040 takes every key of the 2048-bit class and nothing
/// of the 1024-bit class, which is within reach of factoring.
pub(crate) const MIN_RSA_BITS: usize = 2040;
/// Keys below this size load with a warning (`VerifyingKey::is_weak`).
pub(crate) const RECOMMENDED_RSA_BITS: usize = 2048;
/// Largest modulus accepted, in bits (bounds verification cost per request).
pub(crate) const MAX_RSA_BITS: usize = 8192;

const MALFORMED: JoseError = JoseError::InvalidKey("malformed RSA private key");

/// An RSA private key: its members (zeroized on drop) and its CRT form on the kernel.
#[derive(Clone)]
pub(crate) struct RsaPrivate {
    public: RsaPublic,
    /// d, p, q, dp, dq, qi: big-endian without leading zeros.
    members: Arc<[Zeroizing<Vec<u8>>; 6]>,
    crt: Arc<CrtKey>,
}

pub(super) fn check_size(bits: usize) -> Result<(), JoseError> {
    if bits < MIN_RSA_BITS {
        return Err(JoseError::InvalidKey("RSA modulus smaller than 2040 bits"));
    }
    if bits > MAX_RSA_BITS {
        return Err(JoseError::InvalidKey("RSA modulus larger than 8192 bits"));
    }
    Ok(())
}

/// Big-endian bytes without leading zeros.
pub(super) fn trim(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// Bits in a big-endian number.
pub(super) fn bit_length(be: &[u8]) -> usize {
    let be = trim(be);
    be.first()
        .map_or(0, |top| be.len() * 8 - top.leading_zeros() as usize)
}

pub(super) fn digest(sha: Sha, msg: &[u8]) -> Vec<u8> {
    match sha {
        Sha::Sha256 => crate::sha256::digest(msg).to_vec(),
        Sha::Sha384 => Sha384::digest(msg).to_vec(),
        Sha::Sha512 => Sha512::digest(msg).to_vec(),
    }
}

/// The kernel's name for a hash.
pub(super) fn kernel_hash(sha: Sha) -> jwt_relay_rsa::Hash {
    match sha {
        Sha::Sha256 => jwt_relay_rsa::Hash::Sha256,
        Sha::Sha384 => jwt_relay_rsa::Hash::Sha384,
        Sha::Sha512 => jwt_relay_rsa::Hash::Sha512,
    }
}

pub(super) fn sha_of(alg: Algorithm) -> Result<Sha, JoseError> {
    match (alg.family(), alg.sha()) {
        (super::Family::Rsa, Some(sha)) => Ok(sha),
        _ => Err(JoseError::AlgorithmMismatch),
    }
}

/// n, e, d, p, q, read as the key's members.
struct Parts<'a> {
    n: &'a [u8],
    e: &'a [u8],
    d: &'a [u8],
    p: &'a [u8],
    q: &'a [u8],
}

impl Parts<'_> {
    /// The `rsa` crate's checks (see the module comment).
    fn consistent(&self) -> bool {
        let Parts { n, e, d, p, q } = *self;
        well_formed(n, e, 0..=usize::MAX) && jwt_relay_rsa::consistent(n, e, d, p, q)
    }
}

impl RsaPrivate {
    /// From a DER PKCS#1 RSAPrivateKey (two primes: version 0).
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, JoseError> {
        let key = RsaPrivateKeyRef::from_der(der).map_err(|_| MALFORMED)?;
        if key.version() != Version::TwoPrime {
            return Err(MALFORMED);
        }
        let parts = Parts {
            n: key.modulus.as_bytes(),
            e: key.public_exponent.as_bytes(),
            d: key.private_exponent.as_bytes(),
            p: key.prime1.as_bytes(),
            q: key.prime2.as_bytes(),
        };
        if !parts.consistent() {
            return Err(MALFORMED);
        }
        check_size(bit_length(parts.n))?;
        Self::new(&parts)
    }

    /// From a DER PKCS#8 PrivateKeyInfo with the rsaEncryption OID (or id-RSASSA-PSS).
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<Self, JoseError> {
        let info = pkcs8::PrivateKeyInfoRef::try_from(der).map_err(|_| MALFORMED)?;
        rsa_algorithm(&info.algorithm).ok_or(MALFORMED)?;
        Self::from_pkcs1_der(info.private_key.as_bytes())
    }

    /// From JWK members: `n`, `e`, `d` and the two primes `p`, `q` (big-endian). The CRT values
    /// are recomputed; the key is checked (see the module comment).
    pub(crate) fn from_components(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        p: &[u8],
        q: &[u8],
    ) -> Result<Self, JoseError> {
        let n_len = trim(n).len();
        check_size(n_len.saturating_mul(8))?;
        if [d, p, q].iter().any(|x| trim(x).len() > n_len) {
            return Err(JoseError::InvalidKey("RSA integer larger than the modulus"));
        }
        let parts = Parts {
            n: trim(n),
            e: trim(e),
            d: trim(d),
            p: trim(p),
            q: trim(q),
        };
        if !parts.consistent() {
            return Err(JoseError::InvalidKey("inconsistent RSA private key"));
        }
        check_size(bit_length(parts.n))?;
        Self::new(&parts)
    }

    /// From checked parts: the CRT form, and one signature at load checked against the public
    /// key (the kernel's own check), so a key that cannot sign is refused here.
    fn new(parts: &Parts<'_>) -> Result<Self, JoseError> {
        let (n, e) = (trim(parts.n), trim(parts.e));
        let (d, p, q) = (trim(parts.d), trim(parts.p), trim(parts.q));
        let public = RsaPublic::new(n, e)?;
        let too_large = JoseError::InvalidKey(
            "RSA signing key larger than the kernel holds (primes above 3078 bits, RSA-6144)",
        );
        let [dp, dq, qi] = jwt_relay_rsa::crt_members(d, p, q).ok_or(too_large)?;
        let crt = CrtKey::new(n, e, [p, q, &dp, &dq, &qi]).ok_or(too_large)?;
        let own = |x: &[u8]| Zeroizing::new(trim(x).to_vec());
        let key = Self {
            members: Arc::new([own(d), own(p), own(q), own(&dp), own(&dq), own(&qi)]),
            public,
            crt: Arc::new(crt),
        };
        key.sign(Algorithm::RS256, b"load-time check")
            .map_err(|_| JoseError::InvalidKey("inconsistent RSA private key"))?;
        Ok(key)
    }

    /// DER PKCS#8 PrivateKeyInfo (rsaEncryption, a two-prime PKCS#1 RSAPrivateKey inside).
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        let fail = |_| JoseError::InvalidKey("RSA private key cannot be encoded");
        let [d, p, q, dp, dq, qi] = &*self.members;
        let (n, e) = (self.public.modulus(), self.public.exponent());
        fn uint(x: &[u8]) -> Result<UintRef<'_>, JoseError> {
            UintRef::new(x).map_err(|_| JoseError::InvalidKey("RSA private key cannot be encoded"))
        }
        let pkcs1 = Zeroizing::new(
            RsaPrivateKeyRef {
                modulus: uint(&n)?,
                public_exponent: uint(&e)?,
                private_exponent: uint(d)?,
                prime1: uint(p)?,
                prime2: uint(q)?,
                exponent1: uint(dp)?,
                exponent2: uint(dq)?,
                coefficient: uint(qi)?,
                other_prime_infos: None,
            }
            .to_der()
            .map_err(fail)?,
        );
        let info = pkcs8::PrivateKeyInfoRef::new(
            pkcs1::ALGORITHM_ID,
            OctetStringRef::new(&pkcs1).map_err(fail)?,
        );
        info.to_der().map(Zeroizing::new).map_err(fail)
    }

    /// The JWK private members `d`, `p`, `q`, `dp`, `dq`, `qi` (RFC 7518 §6.3.2), big-endian
    /// without leading zeros.
    pub(crate) fn private_members(&self) -> Result<[Zeroizing<Vec<u8>>; 6], JoseError> {
        Ok((*self.members).clone())
    }

    /// The matching public key.
    pub(crate) fn public(&self) -> RsaPublic {
        self.public.clone()
    }

    /// Signs `msg` (the JWS signing input) with RS* or PS*: encoded by `rsa_pad` (PSS draws its
    /// salt from the system RNG, WASI `random_get` inside the filter) and signed on the CRT
    /// kernel, which checks the signature against the public key (s^e mod n must give back the
    /// encoded message), so a fault (Bellcore) or a kernel bug never lets a wrong signature, or
    /// one that leaks a prime, out.
    pub(crate) fn sign(&self, alg: Algorithm, msg: &[u8]) -> Result<Vec<u8>, JoseError> {
        let sha = sha_of(alg)?;
        let hashed = digest(sha, msg);
        let bits = self.public.bits();
        let encoded = if alg.is_pss() {
            let mut salt = Zeroizing::new(vec![0u8; hashed.len()]);
            getrandom::fill(&mut salt).map_err(|_| JoseError::SigningFailed)?;
            rsa_pad::pss(kernel_hash(sha), &hashed, &salt, bits)
        } else {
            rsa_pad::pkcs1v15(kernel_hash(sha), &hashed, bits.div_ceil(8))
        }
        .ok_or(JoseError::SigningFailed)?;
        let signature = self
            .crt
            .private_op(&encoded)
            .ok_or(JoseError::SigningFailed)?;
        Ok(signature.to_vec())
    }
}

/// Key generation for the command-line tool and tests: the `rsa` crate's, read back as PKCS#8.
#[cfg(any(test, feature = "keygen"))]
impl RsaPrivate {
    /// A fresh key of `bits` (2048 to 6144), public exponent 65537, primes from the system RNG.
    pub(crate) fn generate(bits: usize) -> Result<Self, JoseError> {
        use rsa::pkcs8::EncodePrivateKey as _;
        check_size(bits)?;
        // `UnwrapErr`: the backend wants an infallible RNG; the OS RNG failing mid-generation
        // (it cannot once seeded) would abort rather than yield a weak key.
        let rng = &mut getrandom::rand_core::UnwrapErr(getrandom::SysRng);
        let key = rsa::PrivateKey::new(rng, bits).map_err(|_| JoseError::SigningFailed)?;
        let der = key.to_pkcs8_der().map_err(|_| JoseError::SigningFailed)?;
        Self::from_pkcs8_der(der.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use getrandom::rand_core::UnwrapErr;
    use getrandom::SysRng;
    use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
    use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
    use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
    use rsa::{BoxedUint, Pkcs1v15Sign, PrivateKey, Pss};
    use sha2::Sha256;

    fn fixture_pem(name: &str) -> String {
        let path = format!(
            "{}/../tests/fixtures/jose/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).unwrap()
    }

    /// The fixture as the `rsa` crate reads it (the reference) and as this module does.
    fn fixture_pair(name: &str) -> (PrivateKey, RsaPrivate) {
        let reference = PrivateKey::from_pkcs8_pem(&fixture_pem(name)).unwrap();
        let der = reference.to_pkcs8_der().unwrap();
        (
            reference,
            RsaPrivate::from_pkcs8_der(der.as_bytes()).unwrap(),
        )
    }

    fn fixture(name: &str) -> RsaPrivate {
        fixture_pair(name).1
    }

    fn generated(bits: usize) -> (PrivateKey, RsaPrivate) {
        let reference = PrivateKey::new(&mut UnwrapErr(SysRng), bits).unwrap();
        let der = reference.to_pkcs1_der().unwrap();
        (
            reference,
            RsaPrivate::from_pkcs1_der(der.as_bytes()).unwrap(),
        )
    }

    const MESSAGES: [&[u8]; 3] = [b"", b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0", &[0xff; 1000]];

    /// The `rsa` crate's RS* signature (the reference).
    fn rsa_crate_signs(key: &PrivateKey, sha: Sha, hashed: &[u8]) -> Vec<u8> {
        match sha {
            Sha::Sha256 => key.sign(Pkcs1v15Sign::new::<Sha256>(), hashed),
            Sha::Sha384 => key.sign(Pkcs1v15Sign::new::<Sha384>(), hashed),
            Sha::Sha512 => key.sign(Pkcs1v15Sign::new::<Sha512>(), hashed),
        }
        .unwrap()
    }

    /// The kernel's RS* signatures equal the `rsa` crate's byte for byte (PKCS#1 v1.5 is
    /// deterministic), and its PS* signatures verify.
    fn kernel_agrees_with_the_rsa_crate(name: &str, messages: &[&[u8]]) {
        let (reference, key) = fixture_pair(name);
        let public = key.public();
        for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512] {
            let sha = sha_of(alg).unwrap();
            for msg in messages {
                let ours = key.sign(alg, msg).unwrap();
                let theirs = rsa_crate_signs(&reference, sha, &digest(sha, msg));
                assert_eq!(ours, theirs, "{name} {alg:?}");
            }
        }
        for alg in [Algorithm::PS256, Algorithm::PS384, Algorithm::PS512] {
            let msg = messages.first().copied().unwrap_or_default();
            let sig = key.sign(alg, msg).unwrap();
            public.verify(alg, msg, &sig).unwrap();
            assert!(public.verify(alg, b"other", &sig).is_err());
        }
    }

    /// Kong verifies PS* with OpenSSL's salt auto-detection: a signature with no salt, or with
    /// the largest (OpenSSL 3.0's default), verifies here too; a wrong message still fails.
    #[test]
    fn pss_verify_takes_any_salt_length() {
        use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
        let (reference, key) = fixture_pair("rsa2048_pkcs8.pem");
        let public = key.public();
        let msg = b"header.payload";
        for salt in [0, 20, 32, 64, 256 - 32 - 2] {
            let signer = rsa::pss::SigningKey::<Sha256>::new_with_salt_len(reference.clone(), salt);
            let sig = signer.sign_with_rng(&mut UnwrapErr(SysRng), msg).to_vec();
            public.verify(Algorithm::PS256, msg, &sig).unwrap();
            assert!(
                public.verify(Algorithm::PS256, b"other", &sig).is_err(),
                "{salt}"
            );
            assert!(
                public.verify(Algorithm::RS256, msg, &sig).is_err(),
                "{salt}"
            );
        }
    }

    #[test]
    fn kernel_signs_like_the_rsa_crate_2048() {
        kernel_agrees_with_the_rsa_crate("rsa2048_pkcs8.pem", &MESSAGES);
        kernel_agrees_with_the_rsa_crate("rsa2047_pkcs8.pem", &MESSAGES[1..2]);
    }

    #[test]
    fn kernel_signs_like_the_rsa_crate_3072_4096_and_6144() {
        kernel_agrees_with_the_rsa_crate("rsa3072_pkcs8.pem", &MESSAGES[1..2]);
        kernel_agrees_with_the_rsa_crate("rsa4096_pkcs8.pem", &MESSAGES[1..2]);
        // 3072-bit primes: the kernel's largest size (110 limbs).
        kernel_agrees_with_the_rsa_crate("rsa6144_pkcs8.pem", &MESSAGES[1..2]);
    }

    /// Primes above the kernel's largest size: refused at load with a message that says so.
    #[test]
    fn signing_keys_beyond_the_kernel_are_refused_at_load() {
        let (reference, _) = generated(2048);
        // An RSA-8192-shaped key cannot be generated quickly; 6160 bits is past the bound too.
        let big = PrivateKey::new(&mut UnwrapErr(SysRng), 6208).unwrap();
        let err = RsaPrivate::from_pkcs1_der(big.to_pkcs1_der().unwrap().as_bytes()).err();
        assert_eq!(
            err,
            Some(JoseError::InvalidKey(
                "RSA signing key larger than the kernel holds (primes above 3078 bits, RSA-6144)"
            ))
        );
        // The same key's public half still verifies (moduli up to 8192 bits).
        let sig = rsa_crate_signs(&big, Sha::Sha256, &digest(Sha::Sha256, b"m"));
        let public = RsaPublic::from_components(&big.n_bytes(), &big.e_bytes()).unwrap();
        public.verify(Algorithm::RS256, b"m", &sig).unwrap();
        drop(reference);
    }

    /// The `rsa` crate's verification, the reference: PSS reads the salt length from the
    /// signature (`salt_len: None`), as the kernel's `pss_verify` does.
    fn rsa_crate_verifies(
        key: &rsa::PublicKey,
        pss: bool,
        sha: Sha,
        hashed: &[u8],
        sig: &[u8],
    ) -> bool {
        fn any_salt<D: sha2::Digest + rsa::sha2::digest::FixedOutputReset>() -> Pss<D> {
            let mut pss = Pss::<D>::new();
            pss.salt_len = None;
            pss
        }
        match (pss, sha) {
            (false, Sha::Sha256) => key.verify(Pkcs1v15Sign::new::<Sha256>(), hashed, sig),
            (false, Sha::Sha384) => key.verify(Pkcs1v15Sign::new::<Sha384>(), hashed, sig),
            (false, Sha::Sha512) => key.verify(Pkcs1v15Sign::new::<Sha512>(), hashed, sig),
            (true, Sha::Sha256) => key.verify(any_salt::<Sha256>(), hashed, sig),
            (true, Sha::Sha384) => key.verify(any_salt::<Sha384>(), hashed, sig),
            (true, Sha::Sha512) => key.verify(any_salt::<Sha512>(), hashed, sig),
        }
        .is_ok()
    }

    /// The kernel's verification gives the `rsa` crate's answer on valid signatures and on every
    /// kind of wrong one: flipped bits, wrong lengths, s = n and s = n − 1, every hash and both
    /// paddings, PSS with any salt, and moduli of 2047, 2048, 2049 and 3072 bits on the fixed
    /// sizes, 3217, 4096 and 6144 on the runtime-sized `wide` arithmetic (2049 and 3217: the PSS
    /// encoding is a byte shorter than the modulus, and the top limb is partly filled).
    #[test]
    fn kernel_verification_agrees_with_the_rsa_crate() {
        let keys = [
            fixture_pair("rsa2047_pkcs8.pem"),
            fixture_pair("rsa2048_pkcs8.pem"),
            generated(2049),
            fixture_pair("rsa3072_pkcs8.pem"),
            generated(3217),
            fixture_pair("rsa4096_pkcs8.pem"),
            fixture_pair("rsa6144_pkcs8.pem"),
        ];
        let mut checked = 0;
        for (reference, key) in &keys {
            let public = key.public();
            let reference = reference.to_public_key();
            let n = public.modulus();
            let mut n_minus_one = n.clone();
            if let Some(last) = n_minus_one.last_mut() {
                *last -= 1;
            }
            for alg in [
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ] {
                let sha = sha_of(alg).unwrap();
                let hashed = digest(sha, b"header.payload");
                let sig = key.sign(alg, b"header.payload").unwrap();
                let mut cases = vec![
                    sig.clone(),
                    n.clone(),
                    n_minus_one.clone(),
                    vec![0; n.len()],
                ];
                cases.push(sig.get(1..).unwrap().to_vec());
                cases.push([&[0u8][..], &sig].concat());
                for bit in (0..sig.len() * 8).step_by(97) {
                    let mut flipped = sig.clone();
                    flipped[bit / 8] ^= 1 << (bit % 8);
                    cases.push(flipped);
                }
                for (i, case) in cases.iter().enumerate() {
                    let ours = public.verify_hashed(alg.is_pss(), sha, &hashed, case);
                    let theirs = rsa_crate_verifies(&reference, alg.is_pss(), sha, &hashed, case);
                    assert_eq!(ours, theirs, "{} bits, {alg:?}, case {i}", public.bits());
                    assert_eq!(ours, i == 0, "{} bits, {alg:?}, case {i}", public.bits());
                    checked += 1;
                }
            }
        }
        assert!(checked > 1400, "{checked}");
    }

    #[test]
    fn blinding_changes_nothing_in_the_result() {
        let key = fixture("rsa2048_pkcs8.pem");
        let first = key.sign(Algorithm::RS256, b"same").unwrap();
        for _ in 0..5 {
            assert_eq!(key.sign(Algorithm::RS256, b"same").unwrap(), first);
        }
    }

    type Loaded = Result<Vec<u8>, JoseError>;

    /// What the `rsa` crate's parsing and checks, then `check_size`, answered for a PKCS#1 DER
    /// private key (the code this module replaces): the key's PKCS#8 encoding, or the error.
    fn reference_pkcs1(der: &[u8]) -> Loaded {
        let key = PrivateKey::from_pkcs1_der(der).map_err(|_| MALFORMED)?;
        check_size(key.n().bit_width() as usize)?;
        Ok(key.to_pkcs8_der().unwrap().as_bytes().to_vec())
    }

    /// The same for JWK members.
    fn reference_components(n: &[u8], e: &[u8], d: &[u8], p: &[u8], q: &[u8]) -> Loaded {
        let n_len = trim(n).len();
        check_size(n_len * 8)?;
        let bits = u32::try_from(n_len * 8).unwrap();
        let uint = |x: &[u8], bits: u32| {
            BoxedUint::from_be_slice(trim(x), bits)
                .map_err(|_| JoseError::InvalidKey("RSA integer larger than the modulus"))
        };
        let e_bits = u32::try_from(trim(e).len() * 8).unwrap().max(8);
        let key = PrivateKey::from_components(
            uint(n, bits)?,
            uint(e, e_bits)?,
            uint(d, bits)?,
            vec![uint(p, bits)?, uint(q, bits)?],
        )
        .map_err(|_| JoseError::InvalidKey("inconsistent RSA private key"))?;
        check_size(key.n().bit_width() as usize)?;
        Ok(key.to_pkcs8_der().unwrap().as_bytes().to_vec())
    }

    fn loaded(key: Result<RsaPrivate, JoseError>) -> Loaded {
        key.map(|k| k.to_pkcs8_der().unwrap().to_vec())
    }

    /// n, e, d, p, q of a reference key, big-endian.
    fn parts(key: &PrivateKey) -> [Vec<u8>; 5] {
        let [p, q] = key.primes() else {
            panic!("two primes")
        };
        let be = |x: &BoxedUint| trim(&x.to_be_bytes()).to_vec();
        [
            key.n_bytes().to_vec(),
            key.e_bytes().to_vec(),
            be(key.d()),
            be(p.as_ref()),
            be(q.as_ref()),
        ]
    }

    fn plus(x: &[u8], k: u8) -> Vec<u8> {
        let mut x = x.to_vec();
        let mut carry = k;
        for byte in x.iter_mut().rev() {
            let (s, over) = byte.overflowing_add(carry);
            *byte = s;
            carry = u8::from(over);
        }
        if carry == 1 {
            x.insert(0, 1);
        }
        x
    }

    /// Every way a private key's members can be wrong, given as JWK members and as PKCS#1:
    /// taken and refused exactly as the `rsa` crate did, and when taken, the same key.
    #[test]
    fn private_keys_are_taken_and_refused_as_the_rsa_crate_did() {
        let (a, _) = fixture_pair("rsa2048_pkcs8.pem");
        let (b, _) = fixture_pair("rsa2047_pkcs8.pem");
        let [n, e, d, p, q] = parts(&a);
        let [_, _, _, p2, _] = parts(&b);
        let unbalanced = PrivateKey::from_pkcs8_pem(&fixture_pem("rsa2048_unbalanced_pkcs8.pem"));
        let mut cases: Vec<[Vec<u8>; 5]> = vec![
            [n.clone(), e.clone(), d.clone(), p.clone(), q.clone()],
            [n.clone(), e.clone(), d.clone(), q.clone(), p.clone()],
            [n.clone(), e.clone(), plus(&d, 2), p.clone(), q.clone()],
            [n.clone(), e.clone(), n.clone(), p.clone(), q.clone()],
            [n.clone(), e.clone(), plus(&n, 1), p.clone(), q.clone()],
            [n.clone(), e.clone(), vec![1], p.clone(), q.clone()],
            [n.clone(), e.clone(), vec![], p.clone(), q.clone()],
            [n.clone(), vec![3], d.clone(), p.clone(), q.clone()],
            [n.clone(), vec![1, 0, 0], d.clone(), p.clone(), q.clone()],
            [n.clone(), vec![1], d.clone(), p.clone(), q.clone()],
            [n.clone(), e.clone(), d.clone(), p.clone(), p.clone()],
            [n.clone(), e.clone(), d.clone(), p2.clone(), q.clone()],
            [n.clone(), e.clone(), d.clone(), plus(&p, 2), q.clone()],
            [n.clone(), e.clone(), d.clone(), vec![1], n.clone()],
            [n.clone(), e.clone(), d.clone(), n.clone(), vec![1]],
            [n.clone(), e.clone(), d.clone(), vec![3], q.clone()],
            [n.clone(), e.clone(), d.clone(), vec![], q.clone()],
            [plus(&n, 2), e.clone(), d.clone(), p.clone(), q.clone()],
            [plus(&n, 1), e.clone(), d.clone(), p.clone(), q.clone()],
            [n.clone(), e.clone(), d.clone(), plus(&p, 1), q.clone()],
        ];
        // d + λ(n) multiples stay congruent but may reach n; d + (p−1)(q−1) likewise.
        if let Ok(key) = unbalanced {
            cases.push(parts(&key));
        }
        for key in [generated(2048).0, generated(2049).0, generated(3072).0] {
            cases.push(parts(&key));
        }
        let mut taken = 0;
        for (i, [n, e, d, p, q]) in cases.iter().enumerate() {
            let ours = loaded(RsaPrivate::from_components(n, e, d, p, q));
            assert_eq!(ours, reference_components(n, e, d, p, q), "case {i}");
            taken += usize::from(ours.is_ok());
            fn ptr(x: &[u8]) -> rsa::pkcs1::UintRef<'_> {
                rsa::pkcs1::UintRef::new(if x.is_empty() { &[0] } else { x }).unwrap()
            }
            let zero = vec![0u8];
            let der = rsa::pkcs1::RsaPrivateKeyRef {
                modulus: ptr(n),
                public_exponent: ptr(e),
                private_exponent: ptr(d),
                prime1: ptr(p),
                prime2: ptr(q),
                exponent1: ptr(&zero),
                exponent2: ptr(&zero),
                coefficient: ptr(&zero),
                other_prime_infos: None,
            };
            use rsa::pkcs1::der::Encode as _;
            let der = der.to_der().unwrap();
            assert_eq!(
                loaded(RsaPrivate::from_pkcs1_der(&der)),
                reference_pkcs1(&der),
                "case {i} (DER)"
            );
        }
        assert!(taken >= 5, "{taken}");
    }

    /// Every single-byte change, and every truncation, of a PKCS#8 key: the same answer as the
    /// `rsa` crate's (refused, or the same key).
    #[test]
    fn corrupted_pkcs8_answers_as_the_rsa_crate_did() {
        let (reference, _) = fixture_pair("rsa2048_pkcs8.pem");
        let der = reference.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let theirs = |der: &[u8]| -> Loaded {
            let key = PrivateKey::from_pkcs8_der(der).map_err(|_| MALFORMED)?;
            check_size(key.n().bit_width() as usize)?;
            Ok(key.to_pkcs8_der().unwrap().as_bytes().to_vec())
        };
        // The header and the integers' framing: every byte; the integers' contents: a sample.
        let positions: Vec<usize> = (0..40).chain((40..der.len()).step_by(37)).collect();
        for at in positions {
            for value in [0x00, 0x01, 0x7f, 0x80, 0xff, der[at] ^ 0x01] {
                let mut bad = der.clone();
                bad[at] = value;
                assert_eq!(
                    loaded(RsaPrivate::from_pkcs8_der(&bad)),
                    theirs(&bad),
                    "byte {at} = {value:#x}"
                );
            }
            let cut = &der[..at];
            assert_eq!(
                loaded(RsaPrivate::from_pkcs8_der(cut)),
                theirs(cut),
                "cut at {at}"
            );
        }
    }

    /// The PKCS#8 encoding is the `rsa` crate's byte for byte, and the JWK members are its
    /// (dp, dq, qi recomputed identically).
    #[test]
    fn encodings_and_members_are_the_rsa_crates() {
        for name in [
            "rsa2047_pkcs8.pem",
            "rsa2048_pkcs8.pem",
            "rsa4096_pkcs8.pem",
        ] {
            let (reference, key) = fixture_pair(name);
            assert_eq!(
                key.to_pkcs8_der().unwrap().to_vec(),
                reference.to_pkcs8_der().unwrap().as_bytes().to_vec(),
                "{name}"
            );
            let der = reference.to_pkcs1_der().unwrap();
            let k = rsa::pkcs1::RsaPrivateKeyRef::from_der(der.as_bytes()).unwrap();
            let want = [
                k.private_exponent,
                k.prime1,
                k.prime2,
                k.exponent1,
                k.exponent2,
                k.coefficient,
            ]
            .map(|u| trim(u.as_bytes()).to_vec());
            let got = key.private_members().unwrap().map(|m| m.to_vec());
            assert_eq!(got, want, "{name}");
        }
    }
}
