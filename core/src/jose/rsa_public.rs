//! RSA public keys: parsed from DER (SubjectPublicKeyInfo, PKCS#1 RSAPublicKey) or JWK members,
//! checked, encoded back, and verified on the kernel (`jwt_relay_rsa::PublicOp`).
//!
//! The DER structures are the RustCrypto `pkcs1` and `spki` crates' (the ones the `rsa` crate
//! decodes with); the checks are the `rsa` crate's, in its order, so a key is refused here
//! exactly when it was refused there (a test holds the two to it): n odd and within the size
//! limits, e odd, 2 ≤ e ≤ 2^33 − 1 (larger exponents are a known way to slow verifiers down) and
//! e < n. Nothing here needs big-integer arithmetic, which keeps the `rsa` crate's out of it.

use std::sync::Arc;

use pkcs1::der::asn1::BitStringRef;
use pkcs1::der::{Decode as _, Encode as _};
use pkcs1::{RsaPublicKeyRef, UintRef};
use spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};

use super::alg::Sha;
use super::rsa_backend::{
    bit_length, check_size, digest, kernel_hash, sha_of, trim, MAX_RSA_BITS, MIN_RSA_BITS,
};
use super::{Algorithm, JoseError};
use jwt_relay_rsa::{pad as rsa_pad, PublicOp};

/// The modulus sizes DER-encoded keys may have before `check_size` (the `rsa` crate's default
/// limits, which decided which keys were "malformed" and which "too small").
const DER_BITS: std::ops::RangeInclusive<usize> = 1024..=8192;
/// Largest public exponent taken (the `rsa` crate's and *ring*'s bound).
const MAX_E: u64 = (1 << 33) - 1;
/// id-RSASSA-PSS: an SPKI with this algorithm and no parameters is an RSA key too.
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

const MALFORMED: JoseError = JoseError::InvalidKey("malformed RSA public key");

/// An RSA public key, with its form on the kernel (`PublicOp`), where every verification runs
/// (about four times faster in V8 than on the `rsa` crate). Verification handles nothing
/// secret, so the kernel's variable-time public exponentiation is allowed here.
#[derive(Clone)]
pub(crate) struct RsaPublic {
    /// The modulus, big-endian without leading zeros.
    n: Vec<u8>,
    /// The public exponent, big-endian without leading zeros.
    e: Vec<u8>,
    op: Arc<PublicOp>,
}

impl RsaPublic {
    /// From a DER SubjectPublicKeyInfo with the rsaEncryption OID (NULL parameters) or
    /// id-RSASSA-PSS (no parameters).
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<Self, JoseError> {
        let spki = SubjectPublicKeyInfoRef::try_from(der).map_err(|_| MALFORMED)?;
        rsa_algorithm(&spki.algorithm).ok_or(MALFORMED)?;
        let key = spki.subject_public_key.as_bytes().ok_or(MALFORMED)?;
        Self::from_pkcs1_der(key)
    }

    /// From a DER PKCS#1 RSAPublicKey.
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, JoseError> {
        let key = RsaPublicKeyRef::from_der(der).map_err(|_| MALFORMED)?;
        let (n, e) = (key.modulus.as_bytes(), key.public_exponent.as_bytes());
        if !well_formed(n, e, DER_BITS) {
            return Err(MALFORMED);
        }
        check_size(bit_length(n))?;
        Self::new(n, e)
    }

    /// From the big-endian modulus and public exponent (JWK `n`, `e`).
    pub(crate) fn from_components(n: &[u8], e: &[u8]) -> Result<Self, JoseError> {
        // The byte length first (a cheap bound on what follows), then the exact checks.
        check_size(trim(n).len().saturating_mul(8))?;
        if !well_formed(n, e, MIN_RSA_BITS..=MAX_RSA_BITS) {
            return Err(JoseError::InvalidKey("invalid RSA public key"));
        }
        check_size(bit_length(n))?;
        Self::new(n, e)
    }

    /// From parts already checked (`well_formed`, `check_size`).
    pub(crate) fn new(n: &[u8], e: &[u8]) -> Result<Self, JoseError> {
        let (n, e) = (trim(n), trim(e));
        // The checks leave nothing the kernel refuses (an even modulus, a zero exponent, more
        // than 16384 bits): an error here would be a kernel limit, not a bad key.
        let op =
            PublicOp::new(n, e).ok_or(JoseError::InvalidKey("RSA public key beyond the kernel"))?;
        Ok(Self {
            n: n.to_vec(),
            e: e.to_vec(),
            op: Arc::new(op),
        })
    }

    /// DER SubjectPublicKeyInfo (rsaEncryption).
    pub(crate) fn to_spki_der(&self) -> Result<Vec<u8>, JoseError> {
        let fail = |_| JoseError::InvalidKey("RSA public key cannot be encoded");
        let pkcs1 = RsaPublicKeyRef {
            modulus: UintRef::new(&self.n).map_err(fail)?,
            public_exponent: UintRef::new(&self.e).map_err(fail)?,
        }
        .to_der()
        .map_err(fail)?;
        SubjectPublicKeyInfoRef {
            algorithm: pkcs1::ALGORITHM_ID,
            subject_public_key: BitStringRef::new(0, &pkcs1).map_err(fail)?,
        }
        .to_der()
        .map_err(fail)
    }

    /// Modulus, big-endian, no leading zeros.
    pub(crate) fn modulus(&self) -> Vec<u8> {
        self.n.clone()
    }

    /// Public exponent, big-endian, no leading zeros.
    pub(crate) fn exponent(&self) -> Vec<u8> {
        self.e.clone()
    }

    /// Modulus length in bits.
    pub(crate) fn bits(&self) -> usize {
        bit_length(&self.n)
    }

    /// Verifies an RS*/PS* signature over `msg` (the JWS signing input).
    pub(crate) fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let sha = sha_of(alg)?;
        let hashed = digest(sha, msg);
        self.verify_hashed(alg.is_pss(), sha, &hashed, sig)
            .then_some(())
            .ok_or(JoseError::SignatureMismatch)
    }

    /// RSAVP1 on the kernel and the encoding checked: PKCS#1 v1.5 by comparing with the
    /// encoding of `hashed` (in the kernel's scale, `PublicOp::verify_pkcs1v15`); PSS with the
    /// salt length read from the signature. RFC 7518 §3.5 has signers use the hash length (the
    /// filter signs so), but Kong verifies through OpenSSL's auto-detection, and OpenSSL 3.0
    /// signs with the largest salt: tokens Kong accepts must verify here too. The salt length is the signer's choice, no part of what is checked.
    pub(crate) fn verify_hashed(&self, pss: bool, sha: Sha, hashed: &[u8], sig: &[u8]) -> bool {
        if !pss {
            return self.op.verify_pkcs1v15(kernel_hash(sha), hashed, sig);
        }
        self.op
            .apply(sig)
            .is_some_and(|em| rsa_pad::pss_verify(kernel_hash(sha), hashed, &em, self.bits()))
    }
}

/// The SPKI algorithm is RSA: rsaEncryption with NULL parameters, or id-RSASSA-PSS without.
pub(super) fn rsa_algorithm(algorithm: &AlgorithmIdentifierRef<'_>) -> Option<()> {
    match algorithm.oid {
        pkcs1::ALGORITHM_OID => {
            let null = pkcs1::der::asn1::AnyRef::from(pkcs1::der::asn1::Null);
            (algorithm.parameters_any().ok()? == null).then_some(())
        }
        RSASSA_PSS => algorithm.parameters.is_none().then_some(()),
        _ => None,
    }
}

/// The `rsa` crate's public-key checks: n odd and of a size in `bits`, e odd, e within
/// [2, 2^33 − 1], e < n (implied by the others while moduli have 1024 bits or more; kept, as
/// the crate keeps it).
pub(super) fn well_formed(n: &[u8], e: &[u8], bits: std::ops::RangeInclusive<usize>) -> bool {
    let (n, e) = (trim(n), trim(e));
    let odd = |x: &[u8]| x.last().is_some_and(|b| b & 1 == 1);
    let e_value = (e.len() <= 8).then(|| e.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)));
    bits.contains(&bit_length(n))
        && odd(n)
        && odd(e)
        && e_value.is_some_and(|v| (2..=MAX_E).contains(&v))
        && less(e, n)
}

/// a < b for big-endian numbers without leading zeros.
fn less(a: &[u8], b: &[u8]) -> bool {
    a.len() < b.len() || (a.len() == b.len() && a < b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    use rsa::{BoxedUint, PublicKey};

    type Parsed = Result<(Vec<u8>, Vec<u8>), JoseError>;

    /// What the `rsa` crate's parsing, then `check_size`, answered for a DER key (the code this
    /// module replaces).
    fn reference_der(der: &[u8], spki: bool) -> Parsed {
        let key = if spki {
            PublicKey::from_public_key_der(der).map_err(|_| MALFORMED)?
        } else {
            PublicKey::from_pkcs1_der(der).map_err(|_| MALFORMED)?
        };
        check_size(key.n().bit_width() as usize)?;
        Ok((key.n_bytes().to_vec(), key.e_bytes().to_vec()))
    }

    /// The same for JWK members.
    fn reference_components(n: &[u8], e: &[u8]) -> Parsed {
        check_size(trim(n).len() * 8)?;
        let uint = |x: &[u8], bits: usize| {
            BoxedUint::from_be_slice(trim(x), u32::try_from(bits).unwrap()).unwrap()
        };
        let key = PublicKey::new_with_size_limits(
            uint(n, trim(n).len() * 8),
            uint(e, (trim(e).len() * 8).max(8)),
            MIN_RSA_BITS..=MAX_RSA_BITS,
        )
        .map_err(|_| JoseError::InvalidKey("invalid RSA public key"))?;
        check_size(key.n().bit_width() as usize)?;
        Ok((key.n_bytes().to_vec(), key.e_bytes().to_vec()))
    }

    fn parsed(key: Result<RsaPublic, JoseError>) -> Parsed {
        key.map(|k| (k.modulus(), k.exponent()))
    }

    /// A DER length.
    fn len_der(len: usize) -> Vec<u8> {
        match len {
            0..=0x7f => vec![len as u8],
            0x80..=0xff => vec![0x81, len as u8],
            _ => vec![0x82, (len >> 8) as u8, len as u8],
        }
    }

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        [&[tag][..], &len_der(body.len()), body].concat()
    }

    /// An INTEGER of exactly these content bytes (so non-canonical and negative ones too).
    fn integer(content: &[u8]) -> Vec<u8> {
        tlv(0x02, content)
    }

    /// A positive INTEGER, canonically encoded.
    fn uint(be: &[u8]) -> Vec<u8> {
        let be = trim(be);
        match be.first() {
            None => integer(&[0]),
            Some(b) if b & 0x80 != 0 => integer(&[&[0u8][..], be].concat()),
            Some(_) => integer(be),
        }
    }

    fn pkcs1_der(n: &[u8], e: &[u8]) -> Vec<u8> {
        tlv(0x30, &[uint(n), uint(e)].concat())
    }

    /// An SPKI around `key` with the given AlgorithmIdentifier contents.
    fn spki_der(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
        let bits = tlv(0x03, &[&[0u8][..], key].concat());
        tlv(0x30, &[tlv(0x30, algorithm), bits].concat())
    }

    const RSA_ENCRYPTION: [u8; 11] = [6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 1];
    const PSS: [u8; 11] = [6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 10];

    /// An odd number of exactly `bits` bits.
    fn odd(bits: usize, fill: u8) -> Vec<u8> {
        let mut x = vec![fill; bits.div_ceil(8)];
        let top = (bits + 7) % 8; // the top bit's index in the first byte
        let mask = ((1u16 << (top + 1)) - 1) as u8;
        x[0] = (fill & mask) | (1 << top);
        *x.last_mut().unwrap() |= 1;
        x
    }

    /// x − k (big-endian), saturating at zero.
    fn minus(x: &[u8], k: u8) -> Vec<u8> {
        let mut x = x.to_vec();
        let mut borrow = k;
        for byte in x.iter_mut().rev() {
            let (d, under) = byte.overflowing_sub(borrow);
            *byte = d;
            borrow = u8::from(under);
        }
        if borrow == 0 {
            x
        } else {
            vec![0]
        }
    }

    fn fixture_moduli() -> Vec<Vec<u8>> {
        [
            "rsa2047_pkcs8.pem",
            "rsa2048_pkcs8.pem",
            "rsa3072_pkcs8.pem",
            "rsa4096_pkcs8.pem",
        ]
        .iter()
        .map(|name| {
            let path = format!(
                "{}/../tests/fixtures/jose/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let pem = std::fs::read_to_string(path).unwrap();
            use rsa::pkcs8::DecodePrivateKey as _;
            rsa::PrivateKey::from_pkcs8_pem(&pem)
                .unwrap()
                .n_bytes()
                .to_vec()
        })
        .collect()
    }

    /// Moduli at and around every size limit, even ones, and the fixtures'.
    fn moduli() -> Vec<Vec<u8>> {
        let mut all = fixture_moduli();
        for bits in [1023, 1024, 2039, 2040, 2041, 2048, 3079, 8191, 8192, 8193] {
            all.push(odd(bits, 0x5a));
        }
        all.push(minus(&odd(2048, 0xa5), 1));
        all.push(vec![1]);
        all
    }

    /// Exponents around every bound, relative to `n` too.
    fn exponents(n: &[u8]) -> Vec<Vec<u8>> {
        let mut all: Vec<Vec<u8>> = [
            0u64,
            1,
            2,
            3,
            4,
            17,
            65537,
            65536,
            (1 << 33) - 1,
            (1 << 33) - 3,
            1 << 33,
            (1 << 33) + 1,
        ]
        .iter()
        .map(|v| trim(&v.to_be_bytes()).to_vec())
        .collect();
        all.push(vec![]);
        all.push(vec![0, 0, 1, 0, 1]);
        all.push(n.to_vec());
        all.push(minus(n, 2));
        all.push([n, &[1u8][..]].concat());
        all
    }

    #[test]
    fn der_keys_are_taken_and_refused_as_the_rsa_crate_did() {
        let mut cases = 0;
        for n in moduli() {
            for e in exponents(&n) {
                let der = pkcs1_der(&n, &e);
                let want = reference_der(&der, false);
                assert_eq!(
                    parsed(RsaPublic::from_pkcs1_der(&der)),
                    want,
                    "n {} bits, e {e:?}",
                    n.len() * 8
                );
                let null = [&RSA_ENCRYPTION[..], &[5, 0]].concat();
                let spki = spki_der(&null, &der);
                assert_eq!(
                    parsed(RsaPublic::from_spki_der(&spki)),
                    reference_der(&spki, true)
                );
                assert_eq!(parsed(RsaPublic::from_spki_der(&spki)), want);
                cases += 1;
            }
        }
        assert!(cases > 200, "{cases}");
    }

    #[test]
    fn jwk_members_are_taken_and_refused_as_the_rsa_crate_did() {
        for n in moduli() {
            for e in exponents(&n) {
                let want = reference_components(&n, &e);
                assert_eq!(
                    parsed(RsaPublic::from_components(&n, &e)),
                    want,
                    "n {} bits, e {e:?}",
                    n.len() * 8
                );
                // Leading zero bytes in JWK members change nothing.
                let padded = [&[0u8, 0][..], &n].concat();
                assert_eq!(parsed(RsaPublic::from_components(&padded, &e)), want);
            }
        }
    }

    /// The SPKI's algorithm: rsaEncryption with NULL, id-RSASSA-PSS without parameters; any other
    /// OID or parameters refuse the key, as the `rsa` crate did. And the DER around the integers:
    /// non-minimal, negative, trailing bytes.
    #[test]
    fn algorithm_identifiers_and_integer_encodings_match_the_rsa_crate() {
        let n = fixture_moduli().remove(1);
        let key = pkcs1_der(&n, &[1, 0, 1]);
        let ec_oid = [6, 7, 0x2a, 0x86, 0x48, 0xce, 0x3d, 2, 1];
        for algorithm in [
            [&RSA_ENCRYPTION[..], &[5, 0]].concat(),
            RSA_ENCRYPTION.to_vec(),
            [&RSA_ENCRYPTION[..], &[4, 0]].concat(),
            PSS.to_vec(),
            [&PSS[..], &[5, 0]].concat(),
            [&ec_oid[..], &[5, 0]].concat(),
        ] {
            let spki = spki_der(&algorithm, &key);
            assert_eq!(
                parsed(RsaPublic::from_spki_der(&spki)),
                reference_der(&spki, true),
                "{algorithm:?}"
            );
        }
        let e = uint(&[1, 0, 1]);
        for modulus in [
            integer(&[&[0u8, 0][..], &n].concat()),
            integer(&n),
            integer(&[&[0u8][..], &n].concat()),
            integer(&[&[0u8, 0][..], &n[1..]].concat()),
        ] {
            let der = tlv(0x30, &[modulus, e.clone()].concat());
            assert_eq!(
                parsed(RsaPublic::from_pkcs1_der(&der)),
                reference_der(&der, false)
            );
            let trailing = [&der[..], &[0]].concat();
            assert_eq!(
                parsed(RsaPublic::from_pkcs1_der(&trailing)),
                reference_der(&trailing, false)
            );
        }
    }

    /// Every single-byte change, and every truncation, of a valid SPKI: the same answer as the
    /// `rsa` crate's (refused, or the same n and e).
    #[test]
    fn corrupted_spki_answers_as_the_rsa_crate_did() {
        let n = fixture_moduli().remove(1);
        let spki = spki_der(
            &[&RSA_ENCRYPTION[..], &[5, 0]].concat(),
            &pkcs1_der(&n, &[1, 0, 1]),
        );
        let mut checked = 0;
        for at in 0..spki.len() {
            for value in [0x00, 0x01, 0x7f, 0x80, 0xff, spki[at] ^ 0x01] {
                let mut bad = spki.clone();
                bad[at] = value;
                assert_eq!(
                    parsed(RsaPublic::from_spki_der(&bad)),
                    reference_der(&bad, true),
                    "byte {at} = {value:#x}"
                );
                checked += 1;
            }
            let cut = &spki[..at];
            assert_eq!(
                parsed(RsaPublic::from_spki_der(cut)),
                reference_der(cut, true),
                "cut at {at}"
            );
        }
        assert!(checked > 1500, "{checked}");
    }

    /// The encoding read back gives the same key, and is the `rsa` crate's own encoding.
    #[test]
    fn spki_encoding_round_trips_like_the_rsa_crate() {
        use rsa::pkcs8::EncodePublicKey as _;
        for n in fixture_moduli() {
            let key = RsaPublic::from_components(&n, &[1, 0, 1]).unwrap();
            let der = key.to_spki_der().unwrap();
            let theirs = PublicKey::from_public_key_der(&der).unwrap();
            assert_eq!(
                theirs.to_public_key_der().unwrap().as_bytes(),
                der.as_slice()
            );
            assert_eq!(
                parsed(RsaPublic::from_spki_der(&der)),
                parsed(Ok(key.clone()))
            );
            assert_eq!(key.bits(), theirs.n().bit_width() as usize);
        }
    }
}
