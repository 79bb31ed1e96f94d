//! Typed keys, built once at configure time: [`VerifyingKey`] and [`SigningKey`].
//!
//! A key belongs to one algorithm [`Family`] and, for EC, one curve; `verify` and `sign` refuse
//! any other algorithm with [`JoseError::AlgorithmMismatch`] before touching the signature. This
//! is the defence against algorithm confusion: an RSA public key is never used as an HMAC
//! secret, whatever the token header says.
//!
//! HMAC tags are compared in constant time. Secrets (HMAC bytes, private keys) are zeroized on
//! drop by the backing crates or by [`zeroize`], and `Debug` never prints key material.
//! HMAC secrets have no minimum length here (Kong accepts any credential secret); only the
//! empty secret is refused. Policy on secret strength belongs to configuration.

use std::fmt;

use getrandom::SysRng;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::elliptic_curve::Generate as _;
use pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use spki::der::Decode;
use spki::ObjectIdentifier;
use zeroize::Zeroizing;

use super::alg::{EcCurve, Family, Sha};
use super::ed25519::Ed25519Private;
use super::nistp256::{self, P256Verifier};
use super::pem;
use super::rsa_backend::RsaPrivate;
use super::rsa_public::RsaPublic;
use super::{Algorithm, JoseError};
use crate::sha256::{self, hmac::HmacKey};
use jwt_relay_kernels::hmac_sha512::{HmacKey512, Width};

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// An HMAC secret, with its HS256 keyed states ready ([`sha256::hmac::HmacKey`]: HS256 runs on
/// the block function chosen for the engine); zeroized on drop, redacted in `Debug`. HS384 and
/// HS512, which few keys sign with, key a [`HmacKey512`] per use (two more blocks), so a
/// configuration of many secrets holds no states it never uses.
#[derive(Clone)]
struct HmacSecret {
    /// The secret itself, for HS384/HS512, JWK export and its length.
    secret: Zeroizing<Vec<u8>>,
    sha256: HmacKey,
}

impl HmacSecret {
    /// Boxed, and keyed where it stays: the keyed states are as good as the secret for making
    /// tags, so none is built elsewhere and moved in.
    fn new(secret: &[u8]) -> Result<Box<Self>, JoseError> {
        if secret.is_empty() {
            return Err(JoseError::InvalidKey("empty HMAC secret"));
        }
        let mut keyed = Box::new(Self {
            secret: Zeroizing::new(secret.to_vec()),
            sha256: HmacKey::new(&[]),
        });
        keyed.sha256.set(secret);
        Ok(keyed)
    }

    /// The SHA-384 or SHA-512 key, wiped when dropped.
    fn wide(&self, width: Width) -> HmacKey512 {
        HmacKey512::new(width, &self.secret)
    }

    fn mac(&self, sha: Sha, msg: &[u8]) -> Vec<u8> {
        match sha {
            Sha::Sha256 => self.sha256.tag(msg).to_vec(),
            Sha::Sha384 => self.wide(Width::Sha384).tag(msg),
            Sha::Sha512 => self.wide(Width::Sha512).tag(msg),
        }
    }

    /// Constant-time check of a full-length tag (a truncated tag is a mismatch).
    fn verify(&self, sha: Sha, msg: &[u8], tag: &[u8]) -> Result<(), JoseError> {
        let same = match sha {
            Sha::Sha256 => self.sha256.verify(msg, tag),
            Sha::Sha384 => self.wide(Width::Sha384).verify(msg, tag),
            Sha::Sha512 => self.wide(Width::Sha512).verify(msg, tag),
        };
        if same {
            Ok(())
        } else {
            Err(JoseError::SignatureMismatch)
        }
    }
}

/// An EC public key on one of the three JOSE curves.
#[derive(Clone)]
enum EcPublic {
    P256(Box<P256Public>),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

/// An EC private key on one of the three JOSE curves (zeroized on drop by `ecdsa`).
#[derive(Clone)]
enum EcPrivate {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

/// A P-256 key and its fast verifier (`nistp256`), built from the same point.
#[derive(Clone)]
struct P256Public {
    key: p256::ecdsa::VerifyingKey,
    /// `None` only if the crate's point were refused by ours (never for a curve point): the
    /// crate then verifies.
    fast: Option<P256Verifier>,
}

impl P256Public {
    fn new(key: p256::ecdsa::VerifyingKey) -> Self {
        let point = key.to_sec1_bytes();
        let coordinate = |range: std::ops::Range<usize>| {
            point.get(range).and_then(|c| <[u8; 32]>::try_from(c).ok())
        };
        let fast = match (point.first(), coordinate(1..33), coordinate(33..65)) {
            (Some(0x04), Some(x), Some(y)) => P256Verifier::new(&x, &y),
            _ => None,
        };
        Self { key, fast }
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), p256::ecdsa::Error> {
        let signature = p256::ecdsa::Signature::from_slice(sig)?;
        let digest = sha256::digest(msg);
        match self
            .fast
            .as_ref()
            .and_then(|f| f.verify(&digest, &signature))
        {
            Some(true) => Ok(()),
            Some(false) => Err(p256::ecdsa::Error::new()),
            None => self.key.verify(msg, &signature),
        }
    }
}

impl EcPublic {
    fn p256(key: p256::ecdsa::VerifyingKey) -> Self {
        Self::P256(Box::new(P256Public::new(key)))
    }

    fn curve(&self) -> EcCurve {
        match self {
            Self::P256(_) => EcCurve::P256,
            Self::P384(_) => EcCurve::P384,
            Self::P521(_) => EcCurve::P521,
        }
    }

    fn from_spki_der(curve: EcCurve, der: &[u8]) -> Result<Self, JoseError> {
        let bad = |_| JoseError::InvalidKey("malformed EC public key");
        Ok(match curve {
            EcCurve::P256 => {
                Self::p256(p256::ecdsa::VerifyingKey::from_public_key_der(der).map_err(bad)?)
            }
            EcCurve::P384 => {
                Self::P384(p384::ecdsa::VerifyingKey::from_public_key_der(der).map_err(bad)?)
            }
            EcCurve::P521 => {
                Self::P521(p521::ecdsa::VerifyingKey::from_public_key_der(der).map_err(bad)?)
            }
        })
    }

    fn from_coordinates(curve: EcCurve, x: &[u8], y: &[u8]) -> Result<Self, JoseError> {
        let len = curve.field_len();
        if x.len() != len || y.len() != len {
            return Err(JoseError::InvalidKey("EC coordinate has the wrong length"));
        }
        let mut sec1 = Vec::with_capacity(1 + 2 * len);
        sec1.push(0x04);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        let bad = |_| JoseError::InvalidKey("EC point not on the curve");
        Ok(match curve {
            EcCurve::P256 => {
                Self::p256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(bad)?)
            }
            EcCurve::P384 => {
                Self::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(bad)?)
            }
            EcCurve::P521 => {
                Self::P521(p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(bad)?)
            }
        })
    }

    fn to_spki_der(&self) -> Result<Vec<u8>, JoseError> {
        let doc = match self {
            Self::P256(k) => k.key.to_public_key_der(),
            Self::P384(k) => k.to_public_key_der(),
            Self::P521(k) => k.to_public_key_der(),
        };
        doc.map(|d| d.into_vec())
            .map_err(|_| JoseError::InvalidKey("EC public key cannot be encoded"))
    }

    /// Uncompressed coordinates `(x, y)`, each of the curve's field length.
    fn coordinates(&self) -> Result<(Vec<u8>, Vec<u8>), JoseError> {
        let sec1 = match self {
            Self::P256(k) => k.key.to_sec1_bytes(),
            Self::P384(k) => k.to_sec1_bytes(),
            Self::P521(k) => k.to_sec1_bytes(),
        };
        let len = self.curve().field_len();
        match (sec1.first(), sec1.get(1..=len), sec1.get(1 + len..)) {
            (Some(0x04), Some(x), Some(y)) if y.len() == len => Ok((x.to_vec(), y.to_vec())),
            _ => Err(JoseError::InvalidKey("EC point encoding")),
        }
    }

    /// Verifies a raw R||S signature of exactly twice the field length.
    fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let outcome = match self {
            Self::P256(k) => k.verify(msg, sig),
            Self::P384(k) => {
                p384::ecdsa::Signature::from_slice(sig).and_then(|s| k.verify(msg, &s))
            }
            Self::P521(k) => {
                p521::ecdsa::Signature::from_slice(sig).and_then(|s| k.verify(msg, &s))
            }
        };
        outcome.map_err(|_| JoseError::SignatureMismatch)
    }
}

impl EcPrivate {
    /// A P-256 key, with the signing comb's table built now (once per VM) rather than at the
    /// first signature.
    fn p256(key: p256::ecdsa::SigningKey) -> Self {
        nistp256::prepare_signing();
        Self::P256(key)
    }

    fn curve(&self) -> EcCurve {
        match self {
            Self::P256(_) => EcCurve::P256,
            Self::P384(_) => EcCurve::P384,
            Self::P521(_) => EcCurve::P521,
        }
    }

    fn from_pkcs8_der(curve: EcCurve, der: &[u8]) -> Result<Self, JoseError> {
        let bad = |_| JoseError::InvalidKey("malformed EC private key");
        Ok(match curve {
            EcCurve::P256 => Self::p256(p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad)?),
            EcCurve::P384 => Self::P384(p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad)?),
            EcCurve::P521 => Self::P521(p521::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad)?),
        })
    }

    /// SEC1 `EC PRIVATE KEY` (OpenSSL's default EC format); each curve checks its own OID and
    /// scalar length, so trying them in turn picks the right one.
    fn from_sec1_der(der: &[u8]) -> Result<Self, JoseError> {
        if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
            return Ok(Self::p256(k.into()));
        }
        if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
            return Ok(Self::P384(k.into()));
        }
        if let Ok(k) = p521::SecretKey::from_sec1_der(der) {
            return Ok(Self::P521(k.into()));
        }
        Err(JoseError::InvalidKey(
            "malformed or unsupported SEC1 EC private key",
        ))
    }

    fn from_scalar(curve: EcCurve, d: &[u8]) -> Result<Self, JoseError> {
        if d.len() != curve.field_len() {
            return Err(JoseError::InvalidKey(
                "EC private scalar has the wrong length",
            ));
        }
        let bad = |_| JoseError::InvalidKey("EC private scalar out of range");
        Ok(match curve {
            EcCurve::P256 => Self::p256(p256::ecdsa::SigningKey::from_slice(d).map_err(bad)?),
            EcCurve::P384 => Self::P384(p384::ecdsa::SigningKey::from_slice(d).map_err(bad)?),
            EcCurve::P521 => Self::P521(p521::ecdsa::SigningKey::from_slice(d).map_err(bad)?),
        })
    }

    /// A fresh key on `curve`, its scalar drawn uniformly from the system RNG.
    fn generate(curve: EcCurve) -> Result<Self, JoseError> {
        let failed = |_| JoseError::SigningFailed;
        Ok(match curve {
            EcCurve::P256 => Self::p256(
                p256::ecdsa::SigningKey::try_generate_from_rng(&mut SysRng).map_err(failed)?,
            ),
            EcCurve::P384 => Self::P384(
                p384::ecdsa::SigningKey::try_generate_from_rng(&mut SysRng).map_err(failed)?,
            ),
            EcCurve::P521 => Self::P521(
                p521::ecdsa::SigningKey::try_generate_from_rng(&mut SysRng).map_err(failed)?,
            ),
        })
    }

    fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        let doc = match self {
            Self::P256(k) => k.to_pkcs8_der(),
            Self::P384(k) => k.to_pkcs8_der(),
            Self::P521(k) => k.to_pkcs8_der(),
        };
        doc.map(|d| Zeroizing::new(d.as_bytes().to_vec()))
            .map_err(|_| JoseError::InvalidKey("EC private key cannot be encoded"))
    }

    /// The private scalar `d`, big-endian, exactly the curve's field length.
    fn scalar(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            Self::P256(k) => k.to_bytes().to_vec(),
            Self::P384(k) => k.to_bytes().to_vec(),
            Self::P521(k) => k.to_bytes().to_vec(),
        })
    }

    fn public(&self) -> EcPublic {
        match self {
            Self::P256(k) => EcPublic::p256(*k.verifying_key()),
            Self::P384(k) => EcPublic::P384(*k.verifying_key()),
            Self::P521(k) => EcPublic::P521(*k.verifying_key()),
        }
    }

    /// Deterministic (RFC 6979) ECDSA, raw R||S output.
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Self::P256(k) => {
                // Our constant-time k·G (`nistp256::sign`); the crate only if it failed its
                // on-curve check. Both give the same RFC 6979 signature.
                let s = nistp256::sign(k, &sha256::digest(msg)).unwrap_or_else(|| k.sign(msg));
                s.to_bytes().to_vec()
            }
            Self::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_bytes().to_vec()
            }
            Self::P521(k) => {
                let s: p521::ecdsa::Signature = k.sign(msg);
                s.to_bytes().to_vec()
            }
        }
    }
}

#[derive(Clone)]
enum PublicInner {
    Hmac(Box<HmacSecret>),
    Rsa(Box<RsaPublic>),
    Ec(EcPublic),
    Ed25519(ed25519_dalek::VerifyingKey),
    Ed448(Box<ed448_goldilocks::VerifyingKey>),
}

#[derive(Clone)]
enum PrivateInner {
    Hmac(Box<HmacSecret>),
    Rsa(Box<RsaPrivate>),
    Ec(Box<EcPrivate>),
    Ed25519(Box<Ed25519Private>),
    Ed448(Box<ed448_goldilocks::SigningKey>),
}

/// A key that verifies JWS signatures: an HMAC secret, or an RSA, EC (P-256/384/521) or Ed25519
/// public key. Cheap to share behind an `Rc`/`Arc`; parse it once.
#[derive(Clone)]
pub struct VerifyingKey(PublicInner);

/// A key that produces JWS signatures: an HMAC secret, or an RSA, EC or Ed25519 private key.
#[derive(Clone)]
pub struct SigningKey(PrivateInner);

/// Public key material for JWK export (only what RFC 7518/8037 public JWKs carry).
pub(crate) enum PublicParams {
    /// `kty: oct` (`k`: the secret; not public).
    Oct(Vec<u8>),
    /// `kty: RSA` (`n`, `e`).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// `kty: EC` (`crv`, `x`, `y`).
    Ec {
        crv: EcCurve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    /// `kty: OKP`, `crv: Ed25519` (`x`).
    Ed25519 { x: Vec<u8> },
    /// `kty: OKP`, `crv: Ed448` (`x`).
    Ed448 { x: Vec<u8> },
}

/// A private JWK member: its name and big-endian value (zeroized on drop).
pub(crate) type PrivateMember = (&'static str, Zeroizing<Vec<u8>>);

/// Modulus size of the RSA keys [`SigningKey::generate`] makes.
#[cfg(any(test, feature = "keygen"))]
const GENERATED_RSA_BITS: usize = 2048;

const NO_PEM_FOR_HMAC: &str = "an HMAC secret has no PEM form";

fn check_family(family: Family, curve: Option<EcCurve>, alg: Algorithm) -> Result<(), JoseError> {
    if alg.family() != family || alg.ec_curve() != curve {
        return Err(JoseError::AlgorithmMismatch);
    }
    Ok(())
}

fn hmac_sha(alg: Algorithm) -> Result<Sha, JoseError> {
    alg.sha().ok_or(JoseError::AlgorithmMismatch)
}

/// Which public-key structure a DER blob is, judged by its algorithm OID.
fn spki_public(der: &[u8]) -> Result<PublicInner, JoseError> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|_| JoseError::InvalidKey("malformed SubjectPublicKeyInfo"))?;
    let oid = spki.algorithm.oid;
    if oid == OID_RSA {
        Ok(PublicInner::Rsa(Box::new(RsaPublic::from_spki_der(der)?)))
    } else if oid == OID_EC {
        let curve = named_curve(spki.algorithm.parameters_oid().ok())?;
        Ok(PublicInner::Ec(EcPublic::from_spki_der(curve, der)?))
    } else if oid == OID_ED25519 {
        let key = ed25519_dalek::VerifyingKey::from_public_key_der(der)
            .map_err(|_| JoseError::InvalidKey("malformed Ed25519 public key"))?;
        Ok(PublicInner::Ed25519(key))
    } else if oid == OID_ED448 {
        let key = ed448_goldilocks::VerifyingKey::from_public_key_der(der)
            .map_err(|_| JoseError::InvalidKey("malformed Ed448 public key"))?;
        Ok(PublicInner::Ed448(Box::new(key)))
    } else {
        Err(JoseError::UnsupportedKey("public key algorithm"))
    }
}

fn named_curve(oid: Option<ObjectIdentifier>) -> Result<EcCurve, JoseError> {
    match oid {
        Some(o) if o == OID_P256 => Ok(EcCurve::P256),
        Some(o) if o == OID_P384 => Ok(EcCurve::P384),
        Some(o) if o == OID_P521 => Ok(EcCurve::P521),
        _ => Err(JoseError::UnsupportedKey("EC curve")),
    }
}

fn pkcs8_private(der: &[u8]) -> Result<PrivateInner, JoseError> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|_| JoseError::InvalidKey("malformed PKCS#8 private key"))?;
    let oid = info.algorithm.oid;
    if oid == OID_RSA {
        Ok(PrivateInner::Rsa(Box::new(RsaPrivate::from_pkcs8_der(
            der,
        )?)))
    } else if oid == OID_EC {
        let curve = named_curve(info.algorithm.parameters_oid().ok())?;
        Ok(PrivateInner::Ec(Box::new(EcPrivate::from_pkcs8_der(
            curve, der,
        )?)))
    } else if oid == OID_ED25519 {
        Ok(PrivateInner::Ed25519(Box::new(
            Ed25519Private::from_pkcs8_der(der)?,
        )))
    } else if oid == OID_ED448 {
        let key = ed448_goldilocks::SigningKey::from_pkcs8_der(der)
            .map_err(|_| JoseError::InvalidKey("malformed Ed448 private key"))?;
        Ok(PrivateInner::Ed448(Box::new(key)))
    } else {
        Err(JoseError::UnsupportedKey("private key algorithm"))
    }
}

impl VerifyingKey {
    /// An HMAC secret (HS256/384/512). The bytes are used as given; empty is refused.
    pub fn hmac(secret: &[u8]) -> Result<Self, JoseError> {
        Ok(Self(PublicInner::Hmac(HmacSecret::new(secret)?)))
    }

    /// A public key from DER: SubjectPublicKeyInfo (RSA, EC, Ed25519), PKCS#1 RSAPublicKey, or
    /// an X.509 certificate (its subject public key), tried in that order.
    pub fn parse_der(der: &[u8]) -> Result<Self, JoseError> {
        if let Ok(inner) = spki_public(der) {
            return Ok(Self(inner));
        }
        if let Ok(rsa) = RsaPublic::from_pkcs1_der(der) {
            return Ok(Self(PublicInner::Rsa(Box::new(rsa))));
        }
        if let Ok(spki) = pem::certificate_spki(der) {
            return spki_public(&spki).map(Self);
        }
        // Re-run the SPKI parse for its specific reason (size, curve, …).
        spki_public(der).map(Self)
    }

    /// [`Self::parse_der`], then checked against `alg` ([`Self::check_alg`]).
    pub fn from_der(der: &[u8], alg: Algorithm) -> Result<Self, JoseError> {
        let key = Self::parse_der(der)?;
        key.check_alg(alg)?;
        Ok(key)
    }

    /// A public key from one PEM block, typed by its label: `PUBLIC KEY` (SPKI: RSA, EC,
    /// Ed25519), `RSA PUBLIC KEY` (PKCS#1) or `CERTIFICATE` (the first one, if a chain is
    /// given). A private-key PEM is refused: configure a public key for verification.
    pub fn parse_pem(pem_text: &str) -> Result<Self, JoseError> {
        let blocks = pem::parse_blocks(pem_text)?;
        let first = blocks
            .first()
            .ok_or(JoseError::InvalidKey("no PEM block found"))?;
        let all_certs = blocks.iter().all(|b| b.label == "CERTIFICATE");
        if blocks.len() > 1 && !all_certs {
            return Err(JoseError::InvalidKey("expected exactly one PEM block"));
        }
        match first.label.as_str() {
            "PUBLIC KEY" => spki_public(&first.der).map(Self),
            "RSA PUBLIC KEY" => Ok(Self(PublicInner::Rsa(Box::new(RsaPublic::from_pkcs1_der(
                &first.der,
            )?)))),
            "CERTIFICATE" => spki_public(&pem::certificate_spki(&first.der)?).map(Self),
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => Err(
                JoseError::InvalidKey("private key given where a public key is expected"),
            ),
            _ => Err(JoseError::UnsupportedKey("PEM label")),
        }
    }

    /// [`Self::parse_pem`], then checked against `alg`: the way Kong's `rsa_public_key` is
    /// configured for every asymmetric algorithm.
    pub fn from_pem(pem_text: &str, alg: Algorithm) -> Result<Self, JoseError> {
        let key = Self::parse_pem(pem_text)?;
        key.check_alg(alg)?;
        Ok(key)
    }

    /// An RSA public key from its big-endian modulus and exponent (2040 to 8192 bits).
    pub fn rsa_from_components(n: &[u8], e: &[u8]) -> Result<Self, JoseError> {
        Ok(Self(PublicInner::Rsa(Box::new(
            RsaPublic::from_components(n, e)?,
        ))))
    }

    /// An EC public key from its affine coordinates (each exactly the curve's field length);
    /// the point must be on the curve.
    pub fn ec_from_coordinates(curve: EcCurve, x: &[u8], y: &[u8]) -> Result<Self, JoseError> {
        Ok(Self(PublicInner::Ec(EcPublic::from_coordinates(
            curve, x, y,
        )?)))
    }

    /// An Ed25519 public key from its 32 bytes.
    pub fn ed25519_from_bytes(x: &[u8]) -> Result<Self, JoseError> {
        let bytes: &[u8; 32] = x
            .try_into()
            .map_err(|_| JoseError::InvalidKey("Ed25519 public key is not 32 bytes"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| JoseError::InvalidKey("Ed25519 public key is not a valid point"))?;
        Ok(Self(PublicInner::Ed25519(key)))
    }

    /// An Ed448 public key from its 57 bytes (RFC 8037 `x`).
    pub fn ed448_from_bytes(x: &[u8]) -> Result<Self, JoseError> {
        let bytes: &[u8; 57] = x
            .try_into()
            .map_err(|_| JoseError::InvalidKey("Ed448 public key is not 57 bytes"))?;
        let key = ed448_goldilocks::VerifyingKey::from_bytes(bytes)
            .map_err(|_| JoseError::InvalidKey("Ed448 public key is not a valid point"))?;
        Ok(Self(PublicInner::Ed448(Box::new(key))))
    }

    /// The algorithm family this key serves.
    pub fn family(&self) -> Family {
        match &self.0 {
            PublicInner::Hmac(_) => Family::Hmac,
            PublicInner::Rsa(_) => Family::Rsa,
            PublicInner::Ec(_) => Family::Ec,
            PublicInner::Ed25519(_) | PublicInner::Ed448(_) => Family::Ed,
        }
    }

    /// The curve of an EC key; `None` otherwise.
    pub fn ec_curve(&self) -> Option<EcCurve> {
        match &self.0 {
            PublicInner::Ec(k) => Some(k.curve()),
            _ => None,
        }
    }

    /// The modulus size of an RSA key in bits; `None` otherwise.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.0 {
            PublicInner::Rsa(k) => Some(k.bits()),
            _ => None,
        }
    }

    /// `Ok` when this key may verify `alg`: same family and, for EC, the curve `alg` names.
    pub fn check_alg(&self, alg: Algorithm) -> Result<(), JoseError> {
        check_family(self.family(), self.ec_curve(), alg)
    }

    /// A reason to warn about this key at load, if any: an RSA modulus under 2048 bits
    /// (accepted down to 2040, see `rsa_backend::MIN_RSA_BITS`), or an HMAC secret shorter
    /// than the hash of `alg` (HS256 when unknown), which RFC 7518 asks for: a short one is
    /// guessed offline from any token it signed.
    pub fn weakness(&self, alg: Option<Algorithm>) -> Option<String> {
        if let PublicInner::Hmac(secret) = &self.0 {
            let need = match alg {
                Some(Algorithm::HS384) => 48,
                Some(Algorithm::HS512) => 64,
                _ => 32,
            };
            // The warning is logged: it says the secret is short, never how short.
            return (secret.secret.len() < need).then(|| {
                let name = alg.map_or("HS256", |a| a.name());
                format!("HMAC secret shorter than the {need} bytes RFC 7518 asks for {name}")
            });
        }
        let bits = self.rsa_bits()?;
        (bits < super::rsa_backend::RECOMMENDED_RSA_BITS)
            .then(|| format!("RSA modulus of {bits} bits, below the 2048 RFC 7518 asks for"))
    }

    /// Verifies `sig` over `signing_input` (the ASCII `header.payload` of a compact JWS) for
    /// `alg`. Errors: [`JoseError::AlgorithmMismatch`] if the key does not serve `alg`,
    /// [`JoseError::SignatureMismatch`] if the signature is wrong or of the wrong length.
    pub fn verify(
        &self,
        alg: Algorithm,
        signing_input: &[u8],
        sig: &[u8],
    ) -> Result<(), JoseError> {
        self.check_alg(alg)?;
        match &self.0 {
            PublicInner::Hmac(secret) => secret.verify(hmac_sha(alg)?, signing_input, sig),
            PublicInner::Rsa(k) => k.verify(alg, signing_input, sig),
            PublicInner::Ec(k) => k.verify(signing_input, sig),
            PublicInner::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(sig)
                    .map_err(|_| JoseError::SignatureMismatch)?;
                // Strict: rejects small-order keys and R, and non-canonical S.
                k.verify_strict(signing_input, &sig)
                    .map_err(|_| JoseError::SignatureMismatch)
            }
            PublicInner::Ed448(k) => {
                let sig = ed448_goldilocks::Signature::from_slice(sig)
                    .map_err(|_| JoseError::SignatureMismatch)?;
                // RFC 8032 Ed448 (empty context); non-canonical S and off-curve R fail.
                k.verify_raw(&sig, signing_input)
                    .map_err(|_| JoseError::SignatureMismatch)
            }
        }
    }

    /// The DER SubjectPublicKeyInfo of an RSA, EC or Ed25519 key. An HMAC secret has no
    /// public form and is [`JoseError::UnsupportedKey`].
    pub fn to_spki_der(&self) -> Result<Vec<u8>, JoseError> {
        match &self.0 {
            PublicInner::Hmac(_) => Err(JoseError::UnsupportedKey(NO_PEM_FOR_HMAC)),
            PublicInner::Rsa(k) => k.to_spki_der(),
            PublicInner::Ec(k) => k.to_spki_der(),
            PublicInner::Ed25519(k) => k
                .to_public_key_der()
                .map(|d| d.into_vec())
                .map_err(|_| JoseError::InvalidKey("Ed25519 public key cannot be encoded")),
            PublicInner::Ed448(k) => k
                .to_public_key_der()
                .map(|d| d.into_vec())
                .map_err(|_| JoseError::InvalidKey("Ed448 public key cannot be encoded")),
        }
    }

    /// [`Self::to_spki_der`] as a `PUBLIC KEY` PEM block (what OpenSSL writes with `-pubout`).
    pub fn to_spki_pem(&self) -> Result<String, JoseError> {
        Ok(pem::encode("PUBLIC KEY", &self.to_spki_der()?))
    }

    /// Key parameters for JWK export.
    pub(crate) fn params(&self) -> Result<PublicParams, JoseError> {
        Ok(match &self.0 {
            PublicInner::Hmac(s) => PublicParams::Oct(s.secret.to_vec()),
            PublicInner::Rsa(k) => PublicParams::Rsa {
                n: k.modulus(),
                e: k.exponent(),
            },
            PublicInner::Ec(k) => {
                let (x, y) = k.coordinates()?;
                PublicParams::Ec {
                    crv: k.curve(),
                    x,
                    y,
                }
            }
            PublicInner::Ed25519(k) => PublicParams::Ed25519 {
                x: k.to_bytes().to_vec(),
            },
            PublicInner::Ed448(k) => PublicParams::Ed448 {
                x: k.to_bytes().to_vec(),
            },
        })
    }
}

impl SigningKey {
    /// An HMAC secret (HS256/384/512). The bytes are used as given; empty is refused.
    pub fn hmac(secret: &[u8]) -> Result<Self, JoseError> {
        Ok(Self(PrivateInner::Hmac(HmacSecret::new(secret)?)))
    }

    /// A fresh key for `alg`, from the system RNG: RSA 2048 bits (e = 65537) for RS*/PS*, the
    /// algorithm's curve for ES*, Ed25519 for EdDSA, and for HS* a secret as long as the hash
    /// output (RFC 7518 §3.2: 32, 48 or 64 bytes). [`JoseError::SigningFailed`] when no
    /// randomness is available.
    pub fn generate(alg: Algorithm) -> Result<Self, JoseError> {
        Ok(Self(match (alg.family(), alg.ec_curve()) {
            (Family::Hmac, _) => {
                let len = match hmac_sha(alg)? {
                    Sha::Sha256 => 32,
                    Sha::Sha384 => 48,
                    Sha::Sha512 => 64,
                };
                let mut secret = Zeroizing::new(vec![0u8; len]);
                getrandom::fill(&mut secret).map_err(|_| JoseError::SigningFailed)?;
                PrivateInner::Hmac(HmacSecret::new(&secret)?)
            }
            (Family::Rsa, _) => PrivateInner::Rsa(Box::new(generate_rsa()?)),
            (Family::Ec, Some(curve)) => PrivateInner::Ec(Box::new(EcPrivate::generate(curve)?)),
            (Family::Ec, None) => return Err(JoseError::AlgorithmMismatch),
            (Family::Ed, _) => {
                let mut seed = Zeroizing::new([0u8; 32]);
                getrandom::fill(seed.as_mut_slice()).map_err(|_| JoseError::SigningFailed)?;
                PrivateInner::Ed25519(Box::new(Ed25519Private::from_seed(&seed)?))
            }
        }))
    }

    /// The DER PKCS#8 PrivateKeyInfo of an RSA, EC or Ed25519 key (unencrypted). An HMAC
    /// secret has no PEM form and is [`JoseError::UnsupportedKey`].
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        match &self.0 {
            PrivateInner::Hmac(_) => Err(JoseError::UnsupportedKey(NO_PEM_FOR_HMAC)),
            PrivateInner::Rsa(k) => k.to_pkcs8_der(),
            PrivateInner::Ec(k) => k.to_pkcs8_der(),
            PrivateInner::Ed25519(k) => k.to_pkcs8_der(),
            PrivateInner::Ed448(k) => k
                .to_pkcs8_der()
                .map(|d| Zeroizing::new(d.as_bytes().to_vec()))
                .map_err(|_| JoseError::InvalidKey("Ed448 private key cannot be encoded")),
        }
    }

    /// [`Self::to_pkcs8_der`] as a `PRIVATE KEY` PEM block (what `openssl genpkey` writes).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, JoseError> {
        Ok(Zeroizing::new(pem::encode(
            "PRIVATE KEY",
            &self.to_pkcs8_der()?,
        )))
    }

    /// The private JWK members beyond the public ones, in RFC 7518 order: `d p q dp dq qi`
    /// for RSA, `d` for EC and Ed25519 (RFC 8037: the seed), none for HMAC (`k` is already
    /// among the key members).
    pub(crate) fn private_members(&self) -> Result<Vec<PrivateMember>, JoseError> {
        Ok(match &self.0 {
            PrivateInner::Hmac(_) => Vec::new(),
            PrivateInner::Rsa(k) => ["d", "p", "q", "dp", "dq", "qi"]
                .into_iter()
                .zip(k.private_members()?)
                .collect(),
            PrivateInner::Ec(k) => vec![("d", k.scalar())],
            PrivateInner::Ed25519(k) => vec![("d", Zeroizing::new(k.seed().to_vec()))],
            PrivateInner::Ed448(k) => vec![("d", Zeroizing::new(k.to_bytes().to_vec()))],
        })
    }

    /// A private key from DER: PKCS#8 (RSA, EC, Ed25519), PKCS#1 RSAPrivateKey, or SEC1
    /// ECPrivateKey, tried in that order.
    pub fn parse_der(der: &[u8]) -> Result<Self, JoseError> {
        if let Ok(inner) = pkcs8_private(der) {
            return Ok(Self(inner));
        }
        if let Ok(rsa) = RsaPrivate::from_pkcs1_der(der) {
            return Ok(Self(PrivateInner::Rsa(Box::new(rsa))));
        }
        if let Ok(ec) = EcPrivate::from_sec1_der(der) {
            return Ok(Self(PrivateInner::Ec(Box::new(ec))));
        }
        pkcs8_private(der).map(Self)
    }

    /// [`Self::parse_der`], then checked against `alg`.
    pub fn from_der(der: &[u8], alg: Algorithm) -> Result<Self, JoseError> {
        let key = Self::parse_der(der)?;
        key.check_alg(alg)?;
        Ok(key)
    }

    /// A private key from one PEM block, typed by its label: `PRIVATE KEY` (PKCS#8: RSA, EC,
    /// Ed25519), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1). Encrypted keys are
    /// not supported.
    pub fn parse_pem(pem_text: &str) -> Result<Self, JoseError> {
        let block = pem::parse_single(pem_text)?;
        match block.label.as_str() {
            "PRIVATE KEY" => pkcs8_private(&block.der).map(Self),
            "RSA PRIVATE KEY" => Ok(Self(PrivateInner::Rsa(Box::new(
                RsaPrivate::from_pkcs1_der(&block.der)?,
            )))),
            "EC PRIVATE KEY" => Ok(Self(PrivateInner::Ec(Box::new(EcPrivate::from_sec1_der(
                &block.der,
            )?)))),
            "ENCRYPTED PRIVATE KEY" => Err(JoseError::UnsupportedKey("encrypted private key")),
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => Err(JoseError::InvalidKey(
                "public key given where a private key is expected",
            )),
            _ => Err(JoseError::UnsupportedKey("PEM label")),
        }
    }

    /// [`Self::parse_pem`], then checked against `alg`.
    pub fn from_pem(pem_text: &str, alg: Algorithm) -> Result<Self, JoseError> {
        let key = Self::parse_pem(pem_text)?;
        key.check_alg(alg)?;
        Ok(key)
    }

    /// An RSA private key from JWK-style big-endian members `n`, `e`, `d`, `p`, `q`; the key
    /// is validated and its CRT values recomputed.
    pub fn rsa_from_components(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        p: &[u8],
        q: &[u8],
    ) -> Result<Self, JoseError> {
        Ok(Self(PrivateInner::Rsa(Box::new(
            RsaPrivate::from_components(n, e, d, p, q)?,
        ))))
    }

    /// An EC private key from its scalar `d` (exactly the curve's field length).
    pub fn ec_from_scalar(curve: EcCurve, d: &[u8]) -> Result<Self, JoseError> {
        Ok(Self(PrivateInner::Ec(Box::new(EcPrivate::from_scalar(
            curve, d,
        )?))))
    }

    /// An Ed25519 private key from its 32-byte seed (JWK `d`).
    pub fn ed25519_from_seed(seed: &[u8]) -> Result<Self, JoseError> {
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            seed.try_into()
                .map_err(|_| JoseError::InvalidKey("Ed25519 seed is not 32 bytes"))?,
        );
        Ok(Self(PrivateInner::Ed25519(Box::new(
            Ed25519Private::from_seed(&seed)?,
        ))))
    }

    /// An Ed448 private key from its 57-byte secret (JWK `d`).
    pub fn ed448_from_secret(d: &[u8]) -> Result<Self, JoseError> {
        let key = ed448_goldilocks::SigningKey::try_from(d)
            .map_err(|_| JoseError::InvalidKey("Ed448 private key is not 57 bytes"))?;
        Ok(Self(PrivateInner::Ed448(Box::new(key))))
    }

    /// The algorithm family this key serves.
    pub fn family(&self) -> Family {
        match &self.0 {
            PrivateInner::Hmac(_) => Family::Hmac,
            PrivateInner::Rsa(_) => Family::Rsa,
            PrivateInner::Ec(_) => Family::Ec,
            PrivateInner::Ed25519(_) | PrivateInner::Ed448(_) => Family::Ed,
        }
    }

    /// The curve of an EC key; `None` otherwise.
    pub fn ec_curve(&self) -> Option<EcCurve> {
        match &self.0 {
            PrivateInner::Ec(k) => Some(k.curve()),
            _ => None,
        }
    }

    /// `Ok` when this key may sign `alg`: same family and, for EC, the curve `alg` names.
    pub fn check_alg(&self, alg: Algorithm) -> Result<(), JoseError> {
        check_family(self.family(), self.ec_curve(), alg)
    }

    /// The matching verifying key (for HMAC, the same secret).
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(match &self.0 {
            PrivateInner::Hmac(s) => PublicInner::Hmac(s.clone()),
            PrivateInner::Rsa(k) => PublicInner::Rsa(Box::new(k.public())),
            PrivateInner::Ec(k) => PublicInner::Ec(k.public()),
            PrivateInner::Ed25519(k) => PublicInner::Ed25519(k.verifying_key()),
            PrivateInner::Ed448(k) => PublicInner::Ed448(Box::new(k.verifying_key())),
        })
    }

    /// Signs `signing_input` (the ASCII `header.payload`) with `alg`. ES* signatures are raw
    /// R||S; ECDSA and EdDSA are deterministic, RS* is deterministic, PS* is randomized.
    pub fn sign(&self, alg: Algorithm, signing_input: &[u8]) -> Result<Vec<u8>, JoseError> {
        self.check_alg(alg)?;
        match &self.0 {
            PrivateInner::Hmac(secret) => Ok(secret.mac(hmac_sha(alg)?, signing_input)),
            PrivateInner::Rsa(k) => k.sign(alg, signing_input),
            PrivateInner::Ec(k) => Ok(k.sign(signing_input)),
            PrivateInner::Ed25519(k) => Ok(k.sign(signing_input)),
            PrivateInner::Ed448(k) => Ok(k.sign_raw(signing_input).to_bytes().to_vec()),
        }
    }
}

/// An RSA key of `GENERATED_RSA_BITS` (the `keygen` feature's, and the tests').
#[cfg(any(test, feature = "keygen"))]
fn generate_rsa() -> Result<RsaPrivate, JoseError> {
    RsaPrivate::generate(GENERATED_RSA_BITS)
}

/// Without the `keygen` feature (the filter) RSA keys are never generated.
#[cfg(not(any(test, feature = "keygen")))]
fn generate_rsa() -> Result<RsaPrivate, JoseError> {
    Err(JoseError::UnsupportedKey(
        "RSA key generation (a build with the keygen feature)",
    ))
}

fn describe(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    family: Family,
    curve: Option<EcCurve>,
) -> fmt::Result {
    let mut s = f.debug_struct(name);
    s.field("family", &family);
    if let Some(c) = curve {
        s.field("curve", &c);
    }
    s.finish_non_exhaustive()
}

impl fmt::Debug for VerifyingKey {
    /// Family and curve only: never key bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, "VerifyingKey", self.family(), self.ec_curve())
    }
}

impl fmt::Debug for SigningKey {
    /// Family and curve only: never key bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(f, "SigningKey", self.family(), self.ec_curve())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"header.payload";

    #[test]
    fn generate_every_algorithm_signs_and_verifies() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            key.check_alg(alg).unwrap();
            let sig = key.sign(alg, MSG).unwrap();
            key.verifying_key().verify(alg, MSG, &sig).unwrap();
        }
    }

    #[test]
    fn generate_twice_gives_different_keys() {
        for alg in [
            Algorithm::HS256,
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ] {
            let thumbprint = |k: SigningKey| super::super::jwk::thumbprint(&k.verifying_key());
            let a = thumbprint(SigningKey::generate(alg).unwrap()).unwrap();
            let b = thumbprint(SigningKey::generate(alg).unwrap()).unwrap();
            assert_ne!(a, b, "{alg}");
        }
    }

    #[test]
    fn generate_hmac_secret_as_long_as_the_hash() {
        for (alg, len) in [
            (Algorithm::HS256, 32),
            (Algorithm::HS384, 48),
            (Algorithm::HS512, 64),
        ] {
            match SigningKey::generate(alg).unwrap().0 {
                PrivateInner::Hmac(s) => assert_eq!(s.secret.len(), len, "{alg}"),
                _ => panic!("{alg}: not an HMAC key"),
            }
        }
    }

    #[test]
    fn generate_rsa_is_2048_bits() {
        let key = SigningKey::generate(Algorithm::PS256).unwrap();
        assert_eq!(key.verifying_key().rsa_bits(), Some(GENERATED_RSA_BITS));
    }

    #[test]
    fn pkcs8_pem_round_trips_for_every_asymmetric_family() {
        for alg in [
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
            Algorithm::EdDSA,
        ] {
            let key = SigningKey::generate(alg).unwrap();
            let pem_text = key.to_pkcs8_pem().unwrap();
            assert!(
                pem_text.starts_with("-----BEGIN PRIVATE KEY-----\n"),
                "{alg}"
            );
            let back = SigningKey::from_pem(&pem_text, alg).unwrap();
            let sig = back.sign(alg, MSG).unwrap();
            key.verifying_key().verify(alg, MSG, &sig).unwrap();
            let spki = key.verifying_key().to_spki_pem().unwrap();
            assert!(spki.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{alg}");
            let public = VerifyingKey::from_pem(&spki, alg).unwrap();
            public.verify(alg, MSG, &sig).unwrap();
            assert_eq!(
                public.to_spki_der().unwrap(),
                key.verifying_key().to_spki_der().unwrap()
            );
        }
    }

    #[test]
    fn pkcs8_export_hmac_refused() {
        let key = SigningKey::hmac(b"secret").unwrap();
        assert_eq!(
            key.to_pkcs8_der().unwrap_err(),
            JoseError::UnsupportedKey(NO_PEM_FOR_HMAC)
        );
        assert_eq!(
            key.verifying_key().to_spki_der().unwrap_err(),
            JoseError::UnsupportedKey(NO_PEM_FOR_HMAC)
        );
    }

    #[test]
    fn private_members_rsa_rebuild_the_same_key() {
        let key = SigningKey::generate(Algorithm::RS256).unwrap();
        let members = key.private_members().unwrap();
        let names: Vec<&str> = members.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["d", "p", "q", "dp", "dq", "qi"]);
        let PublicParams::Rsa { n, e } = key.verifying_key().params().unwrap() else {
            panic!("not RSA");
        };
        let rebuilt =
            SigningKey::rsa_from_components(&n, &e, &members[0].1, &members[1].1, &members[2].1)
                .unwrap();
        let sig = rebuilt.sign(Algorithm::RS256, MSG).unwrap();
        key.verifying_key()
            .verify(Algorithm::RS256, MSG, &sig)
            .unwrap();
        assert!(members.iter().all(|(_, v)| v.first() != Some(&0)));
    }

    #[test]
    fn private_members_ec_scalar_has_field_length() {
        for curve in [EcCurve::P256, EcCurve::P384, EcCurve::P521] {
            let key = SigningKey::generate(curve.algorithm()).unwrap();
            let members = key.private_members().unwrap();
            assert_eq!(members.len(), 1);
            assert_eq!(members[0].1.len(), curve.field_len());
            let rebuilt = SigningKey::ec_from_scalar(curve, &members[0].1).unwrap();
            assert_eq!(
                rebuilt.verifying_key().to_spki_der().unwrap(),
                key.verifying_key().to_spki_der().unwrap()
            );
        }
    }

    #[test]
    fn debug_of_generated_keys_hides_key_material() {
        let key = SigningKey::generate(Algorithm::HS256).unwrap();
        let PrivateInner::Hmac(secret) = &key.0 else {
            panic!("not HMAC");
        };
        let shown = format!("{key:?} {:?}", key.verifying_key());
        assert_eq!(
            shown,
            "SigningKey { family: Hmac, .. } VerifyingKey { family: Hmac, .. }"
        );
        assert!(!shown.contains(&format!("{:?}", secret.secret.as_slice())));
    }
}
