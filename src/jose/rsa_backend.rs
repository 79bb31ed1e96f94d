//! The seam around the RSA implementation (today the `rsa` crate, 0.10 line).
//!
//! Everything RSA goes through these two types, so swapping the backend (another crate version or
//! big-integer backend) touches this file only. The 0.10 line uses `crypto-bigint` with
//! constant-time private operations and blinding; the 0.9 line carries RUSTSEC-2023-0071 (Marvin)
//! and was not faster in V8 when measured (6.7 ms against 5.3 ms per RS256 sign).
//!
//! Signing goes through `RsaPrivateKey::sign`, which with the crate's default `getrandom` feature
//! blinds with the system RNG (WASI `random_get`) and reports an RNG failure as an error, never
//! a panic; it also checks the CRT result against the public key (fault-attack guard).
//!
//! Speed in wasm: build the wasm target with `--cfg cpubits="32"` (32-bit crypto-bigint limbs;
//! wasm lacks a 64×64→128 multiply), about 30 % faster in V8. RSA-2048 signing is still about
//! 5 ms per token there; getting under 2.5 ms needs a faster Montgomery kernel than any
//! published crate has.

use getrandom::rand_core::UnwrapErr;
use getrandom::SysRng;
use rsa::pkcs1::der::Decode as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::alg::Sha;
use super::{Algorithm, JoseError};

/// Smallest modulus accepted, in bits (RFC 7518 §3.3 and §3.5: 2048 or larger MUST be used).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// Largest modulus accepted, in bits (bounds verification cost per request).
pub(crate) const MAX_RSA_BITS: usize = 8192;

/// An RSA public key.
#[derive(Clone)]
pub(crate) struct RsaPublic(RsaPublicKey);

/// An RSA private key (the backend zeroizes its limbs on drop).
#[derive(Clone)]
pub(crate) struct RsaPrivate(RsaPrivateKey);

fn check_size(bits: usize) -> Result<(), JoseError> {
    if bits < MIN_RSA_BITS {
        return Err(JoseError::InvalidKey("RSA modulus smaller than 2048 bits"));
    }
    if bits > MAX_RSA_BITS {
        return Err(JoseError::InvalidKey("RSA modulus larger than 8192 bits"));
    }
    Ok(())
}

/// Big-endian bytes without leading zeros.
fn trim(bytes: &[u8]) -> &[u8] {
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

fn digest(sha: Sha, msg: &[u8]) -> Vec<u8> {
    match sha {
        Sha::Sha256 => Sha256::digest(msg).to_vec(),
        Sha::Sha384 => Sha384::digest(msg).to_vec(),
        Sha::Sha512 => Sha512::digest(msg).to_vec(),
    }
}

fn sha_of(alg: Algorithm) -> Result<Sha, JoseError> {
    match (alg.family(), alg.sha()) {
        (super::Family::Rsa, Some(sha)) => Ok(sha),
        _ => Err(JoseError::AlgorithmMismatch),
    }
}

impl RsaPublic {
    /// From a DER SubjectPublicKeyInfo with the rsaEncryption OID.
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<Self, JoseError> {
        let key = RsaPublicKey::from_public_key_der(der)
            .map_err(|_| JoseError::InvalidKey("malformed RSA public key"))?;
        Self::checked(key)
    }

    /// From a DER PKCS#1 RSAPublicKey.
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, JoseError> {
        let key = RsaPublicKey::from_pkcs1_der(der)
            .map_err(|_| JoseError::InvalidKey("malformed RSA public key"))?;
        Self::checked(key)
    }

    /// From the big-endian modulus and public exponent (JWK `n`, `e`).
    pub(crate) fn from_components(n: &[u8], e: &[u8]) -> Result<Self, JoseError> {
        let bits = bits_of(n)?;
        check_size(usize::try_from(bits).unwrap_or(usize::MAX))?;
        let n = uint(n, bits)?;
        let e_bits = bits_of(e)?.max(8);
        let e = uint(e, e_bits)?;
        let key = RsaPublicKey::new_with_size_limits(n, e, MIN_RSA_BITS..=MAX_RSA_BITS)
            .map_err(|_| JoseError::InvalidKey("invalid RSA public key"))?;
        Self::checked(key)
    }

    fn checked(key: RsaPublicKey) -> Result<Self, JoseError> {
        check_size(key.n().bits() as usize)?;
        Ok(Self(key))
    }

    /// DER SubjectPublicKeyInfo.
    pub(crate) fn to_spki_der(&self) -> Result<Vec<u8>, JoseError> {
        self.0
            .to_public_key_der()
            .map(|doc| doc.into_vec())
            .map_err(|_| JoseError::InvalidKey("RSA public key cannot be encoded"))
    }

    /// Modulus, big-endian, no leading zeros.
    pub(crate) fn modulus(&self) -> Vec<u8> {
        self.0.n_bytes().into_vec()
    }

    /// Public exponent, big-endian, no leading zeros.
    pub(crate) fn exponent(&self) -> Vec<u8> {
        self.0.e_bytes().into_vec()
    }

    /// Modulus length in bits.
    pub(crate) fn bits(&self) -> usize {
        self.0.n().bits() as usize
    }

    /// Verifies an RS*/PS* signature over `msg` (the JWS signing input).
    pub(crate) fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let sha = sha_of(alg)?;
        let hashed = digest(sha, msg);
        let outcome = match (alg.is_pss(), sha) {
            (false, Sha::Sha256) => self.0.verify(Pkcs1v15Sign::new::<Sha256>(), &hashed, sig),
            (false, Sha::Sha384) => self.0.verify(Pkcs1v15Sign::new::<Sha384>(), &hashed, sig),
            (false, Sha::Sha512) => self.0.verify(Pkcs1v15Sign::new::<Sha512>(), &hashed, sig),
            // JWS fixes the PSS salt length to the hash length (RFC 7518 §3.5); Pss::new does too.
            (true, Sha::Sha256) => self.0.verify(Pss::<Sha256>::new(), &hashed, sig),
            (true, Sha::Sha384) => self.0.verify(Pss::<Sha384>::new(), &hashed, sig),
            (true, Sha::Sha512) => self.0.verify(Pss::<Sha512>::new(), &hashed, sig),
        };
        outcome.map_err(|_| JoseError::SignatureMismatch)
    }
}

impl RsaPrivate {
    /// From a DER PKCS#1 RSAPrivateKey.
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, JoseError> {
        let key = RsaPrivateKey::from_pkcs1_der(der)
            .map_err(|_| JoseError::InvalidKey("malformed RSA private key"))?;
        Self::checked(key)
    }

    /// From a DER PKCS#8 PrivateKeyInfo with the rsaEncryption OID.
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<Self, JoseError> {
        let key = RsaPrivateKey::from_pkcs8_der(der)
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
        let key = RsaPrivateKey::from_components(
            uint(n, bits)?,
            uint(e, e_bits)?,
            uint(d, bits)?,
            vec![uint(p, bits)?, uint(q, bits)?],
        )
        .map_err(|_| JoseError::InvalidKey("inconsistent RSA private key"))?;
        Self::checked(key)
    }

    fn checked(key: RsaPrivateKey) -> Result<Self, JoseError> {
        check_size(key.n().bits() as usize)?;
        Ok(Self(key))
    }

    /// A fresh key of `bits` (2048 to 8192), public exponent 65537, primes from the system RNG.
    pub(crate) fn generate(bits: usize) -> Result<Self, JoseError> {
        check_size(bits)?;
        // `UnwrapErr`: the backend wants an infallible RNG; the OS RNG failing mid-generation
        // (it cannot once seeded) would abort rather than yield a weak key.
        let key = RsaPrivateKey::new(&mut UnwrapErr(SysRng), bits)
            .map_err(|_| JoseError::SigningFailed)?;
        Self::checked(key)
    }

    /// DER PKCS#8 PrivateKeyInfo.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        self.0
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
        let der = self.0.to_pkcs1_der().map_err(bad)?;
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
        RsaPublic(self.0.to_public_key())
    }

    /// Signs `msg` (the JWS signing input) with RS* or PS*. PSS draws its salt, and the backend
    /// its blinding factor, from the system RNG (WASI `random_get` inside the filter).
    pub(crate) fn sign(&self, alg: Algorithm, msg: &[u8]) -> Result<Vec<u8>, JoseError> {
        let sha = sha_of(alg)?;
        let hashed = digest(sha, msg);
        let outcome = match (alg.is_pss(), sha) {
            (false, Sha::Sha256) => self.0.sign(Pkcs1v15Sign::new::<Sha256>(), &hashed),
            (false, Sha::Sha384) => self.0.sign(Pkcs1v15Sign::new::<Sha384>(), &hashed),
            (false, Sha::Sha512) => self.0.sign(Pkcs1v15Sign::new::<Sha512>(), &hashed),
            (true, Sha::Sha256) => self.0.sign(Pss::<Sha256>::new(), &hashed),
            (true, Sha::Sha384) => self.0.sign(Pss::<Sha384>::new(), &hashed),
            (true, Sha::Sha512) => self.0.sign(Pss::<Sha512>::new(), &hashed),
        };
        outcome.map_err(|_| JoseError::SigningFailed)
    }
}
