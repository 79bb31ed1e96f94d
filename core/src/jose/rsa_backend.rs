//! RSA private keys: the `rsa` crate (0.10 line) for their parsing, checks, encoding and
//! generation, the filter's own kernel (crate `jwt-relay-rsa`) for signing. Public keys and
//! verification live in `rsa_public`, without the crate; the helpers both share are here.
//!
//! The 0.10 line uses `crypto-bigint` with constant-time private operations and blinding; the
//! 0.9 line carries RUSTSEC-2023-0071 (Marvin) and was not faster in V8 (6.7 ms per RS256 sign).
//!
//! Signing: the kernel crate `jwt-relay-rsa` encodes (`pad`: EMSA-PKCS1-v1_5 or EMSA-PSS, salt
//! from the system RNG), and its `CrtKey` runs the private operation in constant time with
//! blinded exponents and checks the result against the public key. That takes about 2.5 ms per
//! RSA-2048 signature in V8, where the `rsa` crate takes about 8 ms even with 32-bit limbs. Keys
//! the kernel cannot hold (primes wider than 2070 bits) sign with `PrivateKey::sign`, which
//! blinds and fault-checks too; the crate is built for wasm with `--cfg cpubits="32"`
//! (`.cargo/config.toml`: 32-bit crypto-bigint limbs, faster in V8).

use getrandom::rand_core::UnwrapErr;
use getrandom::SysRng;
use rsa::pkcs1::der::Decode as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, PrivateKey, Pss};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::sync::Arc;
use zeroize::Zeroizing;

use super::alg::Sha;
use super::rsa_public::RsaPublic;
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

/// An RSA private key (the backend zeroizes its limbs on drop), with its CRT form on the
/// wasm-tuned kernel when the key fits it (two primes of at most 2070 bits: up to RSA-4096).
#[derive(Clone)]
pub(crate) struct RsaPrivate {
    key: PrivateKey,
    public: RsaPublic,
    fast: Option<Arc<CrtKey>>,
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

fn uint(bytes: &[u8], bits: u32) -> Result<BoxedUint, JoseError> {
    BoxedUint::from_be_slice(trim(bytes), bits)
        .map_err(|_| JoseError::InvalidKey("RSA integer larger than the modulus"))
}

fn bits_of(n: &[u8]) -> Result<u32, JoseError> {
    let len = trim(n).len();
    u32::try_from(len.saturating_mul(8)).map_err(|_| JoseError::InvalidKey("RSA modulus too large"))
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

impl RsaPrivate {
    /// From a DER PKCS#1 RSAPrivateKey.
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, JoseError> {
        let key = PrivateKey::from_pkcs1_der(der)
            .map_err(|_| JoseError::InvalidKey("malformed RSA private key"))?;
        Self::checked(key)
    }

    /// From a DER PKCS#8 PrivateKeyInfo with the rsaEncryption OID.
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<Self, JoseError> {
        let key = PrivateKey::from_pkcs8_der(der)
            .map_err(|_| JoseError::InvalidKey("malformed RSA private key"))?;
        Self::checked(key)
    }

    /// From JWK members: `n`, `e`, `d` and the two primes `p`, `q` (big-endian). The CRT values
    /// are recomputed by the backend; the key is validated (p·q = n, d consistent).
    pub(crate) fn from_components(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        p: &[u8],
        q: &[u8],
    ) -> Result<Self, JoseError> {
        let bits = bits_of(n)?;
        check_size(usize::try_from(bits).unwrap_or(usize::MAX))?;
        let e_bits = bits_of(e)?.max(8);
        let key = PrivateKey::from_components(
            uint(n, bits)?,
            uint(e, e_bits)?,
            uint(d, bits)?,
            vec![uint(p, bits)?, uint(q, bits)?],
        )
        .map_err(|_| JoseError::InvalidKey("inconsistent RSA private key"))?;
        Self::checked(key)
    }

    fn checked(key: PrivateKey) -> Result<Self, JoseError> {
        check_size(key.n().bit_width() as usize)?;
        let public = RsaPublic::new(key.n_bytes().as_ref(), key.e_bytes().as_ref())?;
        let mut private = Self {
            key,
            public,
            fast: None,
        };
        // The `rsa-crate-signer` feature keeps every key on the `rsa` crate (see `crt_key`).
        if !cfg!(feature = "rsa-crate-signer") {
            private.fast = private.crt_key().map(Arc::new);
        }
        Ok(private)
    }

    /// The key in the form the fast kernel signs with, its CRT members computed by the kernel
    /// from d, p and q; `None` (keep the `rsa` crate's own private operation) for multi-prime
    /// keys and primes too large for the kernel.
    fn crt_key(&self) -> Option<CrtKey> {
        use rsa::traits::PrivateKeyParts;
        let [p, q] = self.key.primes() else {
            return None;
        };
        let bytes = |x: &BoxedUint| Zeroizing::new(x.to_be_bytes().into_vec());
        let (d, p, q) = (bytes(self.key.d()), bytes(p.as_ref()), bytes(q.as_ref()));
        let (n, e) = (self.key.n_bytes(), self.key.e_bytes());
        CrtKey::from_private(n.as_ref(), e.as_ref(), trim(&d), trim(&p), trim(&q))
    }

    /// A fresh key of `bits` (2048 to 8192), public exponent 65537, primes from the system RNG.
    pub(crate) fn generate(bits: usize) -> Result<Self, JoseError> {
        check_size(bits)?;
        // `UnwrapErr`: the backend wants an infallible RNG; the OS RNG failing mid-generation
        // (it cannot once seeded) would abort rather than yield a weak key.
        let key =
            PrivateKey::new(&mut UnwrapErr(SysRng), bits).map_err(|_| JoseError::SigningFailed)?;
        Self::checked(key)
    }

    /// DER PKCS#8 PrivateKeyInfo.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        self.key
            .to_pkcs8_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|_| JoseError::InvalidKey("RSA private key cannot be encoded"))
    }

    /// The JWK private members `d`, `p`, `q`, `dp`, `dq`, `qi` (RFC 7518 §6.3.2), big-endian
    /// without leading zeros, read back from the PKCS#1 encoding so the CRT values are exactly
    /// what any other implementation would compute.
    pub(crate) fn private_members(&self) -> Result<[Zeroizing<Vec<u8>>; 6], JoseError> {
        fn bad<E>(_: E) -> JoseError {
            JoseError::InvalidKey("RSA private key cannot be encoded")
        }
        let der = self.key.to_pkcs1_der().map_err(bad)?;
        let parts = rsa::pkcs1::RsaPrivateKeyRef::from_der(der.as_bytes()).map_err(bad)?;
        let member = |u: rsa::pkcs1::UintRef<'_>| Zeroizing::new(trim(u.as_bytes()).to_vec());
        Ok([
            member(parts.private_exponent),
            member(parts.prime1),
            member(parts.prime2),
            member(parts.exponent1),
            member(parts.exponent2),
            member(parts.coefficient),
        ])
    }

    /// The matching public key.
    pub(crate) fn public(&self) -> RsaPublic {
        self.public.clone()
    }

    /// Signs `msg` (the JWS signing input) with RS* or PS*. PSS draws its salt, and the backend
    /// its blinding factor, from the system RNG (WASI `random_get` inside the filter).
    pub(crate) fn sign(&self, alg: Algorithm, msg: &[u8]) -> Result<Vec<u8>, JoseError> {
        let sha = sha_of(alg)?;
        let hashed = digest(sha, msg);
        match &self.fast {
            Some(fast) => self.sign_fast(fast, alg.is_pss(), sha, &hashed),
            None => self.sign_backend(alg.is_pss(), sha, &hashed),
        }
    }

    /// Encodes with `rsa_pad` and signs on the CRT kernel, which checks the signature against the
    /// public key (s^e mod n must give back the encoded message), so a fault (Bellcore) or a
    /// kernel bug never lets a wrong signature, or one that leaks a prime, out.
    fn sign_fast(
        &self,
        fast: &CrtKey,
        pss: bool,
        sha: Sha,
        hashed: &[u8],
    ) -> Result<Vec<u8>, JoseError> {
        let bits = self.bits_of_modulus();
        let encoded = if pss {
            let mut salt = Zeroizing::new(vec![0u8; hashed.len()]);
            getrandom::fill(&mut salt).map_err(|_| JoseError::SigningFailed)?;
            rsa_pad::pss(kernel_hash(sha), hashed, &salt, bits)
        } else {
            rsa_pad::pkcs1v15(kernel_hash(sha), hashed, bits.div_ceil(8))
        }
        .ok_or(JoseError::SigningFailed)?;
        let signature = fast.private_op(&encoded).ok_or(JoseError::SigningFailed)?;
        Ok(signature.to_vec())
    }

    /// Signs with the `rsa` crate's private operation even when the kernel holds the key (the
    /// benchmark's baseline).
    pub(crate) fn sign_with_rsa_crate(
        &self,
        alg: Algorithm,
        msg: &[u8],
    ) -> Result<Vec<u8>, JoseError> {
        let sha = sha_of(alg)?;
        self.sign_backend(alg.is_pss(), sha, &digest(sha, msg))
    }

    fn bits_of_modulus(&self) -> usize {
        self.key.n().bit_width() as usize
    }

    /// The `rsa` crate's own signing (blinded, constant time), for keys the kernel does not take.
    fn sign_backend(&self, pss: bool, sha: Sha, hashed: &[u8]) -> Result<Vec<u8>, JoseError> {
        let outcome = match (pss, sha) {
            (false, Sha::Sha256) => self.key.sign(Pkcs1v15Sign::new::<Sha256>(), hashed),
            (false, Sha::Sha384) => self.key.sign(Pkcs1v15Sign::new::<Sha384>(), hashed),
            (false, Sha::Sha512) => self.key.sign(Pkcs1v15Sign::new::<Sha512>(), hashed),
            (true, Sha::Sha256) => self.key.sign(Pss::<Sha256>::new(), hashed),
            (true, Sha::Sha384) => self.key.sign(Pss::<Sha384>::new(), hashed),
            (true, Sha::Sha512) => self.key.sign(Pss::<Sha512>::new(), hashed),
        };
        outcome.map_err(|_| JoseError::SigningFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_pem(name: &str) -> String {
        let path = format!(
            "{}/../tests/fixtures/jose/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).unwrap()
    }

    fn fixture(name: &str) -> RsaPrivate {
        let pem = fixture_pem(name);
        RsaPrivate::checked(PrivateKey::from_pkcs8_pem(&pem).unwrap()).unwrap()
    }

    #[cfg(not(feature = "rsa-crate-signer"))]
    const MESSAGES: [&[u8]; 3] = [b"", b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0", &[0xff; 1000]];

    /// The kernel's RS* signatures equal the `rsa` crate's byte for byte (PKCS#1 v1.5 is
    /// deterministic), and its PS* signatures verify.
    #[cfg(not(feature = "rsa-crate-signer"))]
    fn kernel_agrees_with_the_rsa_crate(name: &str, messages: &[&[u8]]) {
        let key = fixture(name);
        let fast = key
            .fast
            .as_deref()
            .unwrap_or_else(|| panic!("{name}: kernel not used"));
        let public = key.public();
        for alg in [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512] {
            let sha = sha_of(alg).unwrap();
            for msg in messages {
                let hashed = digest(sha, msg);
                let ours = key.sign_fast(fast, false, sha, &hashed).unwrap();
                let theirs = key.sign_backend(false, sha, &hashed).unwrap();
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
        let key = fixture("rsa2048_pkcs8.pem");
        let public = key.public();
        let msg = b"header.payload";
        for salt in [0, 20, 32, 64, 256 - 32 - 2] {
            let signer = rsa::pss::SigningKey::<Sha256>::new_with_salt_len(key.key.clone(), salt);
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

    /// Built with `--features rsa-crate-signer`, no key reaches the kernel and signatures are
    /// still the same bytes (`make test` runs this module with the feature too).
    #[cfg(feature = "rsa-crate-signer")]
    #[test]
    fn rsa_crate_signer_feature_keeps_every_key_off_the_kernel() {
        for name in ["rsa2048_pkcs8.pem", "rsa3072_pkcs8.pem"] {
            let key = fixture(name);
            assert!(key.fast.is_none(), "{name}");
            let sig = key.sign(Algorithm::RS256, b"m").unwrap();
            let hashed = digest(Sha::Sha256, b"m");
            assert_eq!(sig, key.sign_backend(false, Sha::Sha256, &hashed).unwrap());
            key.public().verify(Algorithm::RS256, b"m", &sig).unwrap();
        }
    }

    #[cfg(not(feature = "rsa-crate-signer"))]
    #[test]
    fn kernel_signs_like_the_rsa_crate_2048() {
        kernel_agrees_with_the_rsa_crate("rsa2048_pkcs8.pem", &MESSAGES);
    }

    #[cfg(not(feature = "rsa-crate-signer"))]
    #[test]
    fn kernel_signs_like_the_rsa_crate_3072_and_4096() {
        kernel_agrees_with_the_rsa_crate("rsa3072_pkcs8.pem", &MESSAGES[1..2]);
        kernel_agrees_with_the_rsa_crate("rsa4096_pkcs8.pem", &MESSAGES[1..2]);
    }

    #[test]
    fn keys_the_kernel_cannot_hold_sign_with_the_rsa_crate() {
        // 3072-bit primes: wider than the largest (74-limb) kernel.
        let key = fixture("rsa6144_pkcs8.pem");
        assert!(key.fast.is_none());
        let sig = key.sign(Algorithm::RS256, b"m").unwrap();
        key.public().verify(Algorithm::RS256, b"m", &sig).unwrap();
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
        let generated = |bits| {
            RsaPrivate::checked(PrivateKey::new(&mut UnwrapErr(SysRng), bits).unwrap()).unwrap()
        };
        let keys = [
            fixture("rsa2047_pkcs8.pem"),
            fixture("rsa2048_pkcs8.pem"),
            generated(2049),
            fixture("rsa3072_pkcs8.pem"),
            generated(3217),
            fixture("rsa4096_pkcs8.pem"),
            fixture("rsa6144_pkcs8.pem"),
        ];
        let mut checked = 0;
        for key in &keys {
            let public = key.public();
            let reference = key.key.to_public_key();
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
}
