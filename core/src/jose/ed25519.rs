//! Ed25519 private keys (RFC 8032, PureEdDSA) whose base-point multiplications run on a table
//! made in memory once per VM.
//!
//! `ed25519_dalek::SigningKey` multiplies by the base point with curve25519-dalek's static
//! table, 30 KB of the module's data compiled into every VM whether or not a key signs with
//! EdDSA. Here the same table type (`EdwardsBasepointTable`) is made from the base point when
//! the first Ed25519 signing key loads, and this key type never calls the crate's code that
//! names the static one, so the linker leaves it out. Signing runs the crate's constant-time
//! table multiplication, as `SigningKey::sign` does (tests compare the two byte for byte).
//! Verification stays the crate's `verify_strict`.

use std::sync::OnceLock;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsBasepointTable};
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use curve25519_dalek::traits::BasepointTable as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, KeypairBytes};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::JoseError;

static TABLE: OnceLock<Box<EdwardsBasepointTable>> = OnceLock::new();

fn table() -> &'static EdwardsBasepointTable {
    TABLE.get_or_init(|| Box::new(EdwardsBasepointTable::create(&ED25519_BASEPOINT_POINT)))
}

/// scalar·B, constant time in the scalar.
fn mul_base(scalar: &Scalar) -> CompressedEdwardsY {
    (table() * scalar).compress()
}

fn wide_scalar(hash: Sha512) -> Scalar {
    let mut wide = Zeroizing::new([0u8; 64]);
    wide.copy_from_slice(&hash.finalize());
    Scalar::from_bytes_mod_order_wide(&wide)
}

const MALFORMED: JoseError = JoseError::InvalidKey("malformed Ed25519 private key");

/// An Ed25519 private key: its seed (what PKCS#8 and JWK `d` hold), the secret scalar and nonce
/// prefix expanded from it, and the public key.
#[derive(Clone)]
pub(crate) struct Ed25519Private {
    seed: Zeroizing<[u8; 32]>,
    secret: Zeroizing<Scalar>,
    prefix: Zeroizing<[u8; 32]>,
    public: VerifyingKey,
}

impl Ed25519Private {
    /// The key of a 32-byte seed: SHA-512 of it, the low half clamped as the secret scalar.
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Result<Self, JoseError> {
        let mut expanded = Zeroizing::new([0u8; 64]);
        expanded.copy_from_slice(&Sha512::digest(seed));
        let (low, high) = expanded.split_at(32);
        let mut lower = Zeroizing::new([0u8; 32]);
        let mut prefix = Zeroizing::new([0u8; 32]);
        lower.copy_from_slice(low);
        prefix.copy_from_slice(high);
        *lower = clamp_integer(*lower);
        let secret = Zeroizing::new(Scalar::from_bytes_mod_order(*lower));
        let public =
            VerifyingKey::from_bytes(mul_base(&secret).as_bytes()).map_err(|_| MALFORMED)?;
        Ok(Self {
            seed: Zeroizing::new(*seed),
            secret,
            prefix,
            public,
        })
    }

    /// A PKCS#8 key (RFC 8410). A public key beside the seed must be the seed's, as the crate
    /// requires.
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<Self, JoseError> {
        let pair = KeypairBytes::from_pkcs8_der(der).map_err(|_| MALFORMED)?;
        let key = Self::from_seed(&pair.secret_key)?;
        match &pair.public_key {
            Some(public) if public.to_bytes() != key.public.to_bytes() => Err(MALFORMED),
            _ => Ok(key),
        }
    }

    /// PKCS#8 with the public key beside the seed, as the crate encodes it.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        let pair = KeypairBytes {
            secret_key: *self.seed,
            public_key: Some(ed25519_dalek::pkcs8::PublicKeyBytes(self.public.to_bytes())),
        };
        pair.to_pkcs8_der()
            .map(|document| Zeroizing::new(document.as_bytes().to_vec()))
            .map_err(|_| JoseError::InvalidKey("Ed25519 private key cannot be encoded"))
    }

    pub(crate) fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    pub(crate) fn verifying_key(&self) -> VerifyingKey {
        self.public
    }

    /// The 64-byte signature R ‖ S of `message`: r = H(prefix ‖ M), R = r·B,
    /// S = r + H(R ‖ A ‖ M)·a.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let nonce = Zeroizing::new(wide_scalar(
            Sha512::new()
                .chain_update(*self.prefix)
                .chain_update(message),
        ));
        let r = mul_base(&nonce);
        let challenge = wide_scalar(
            Sha512::new()
                .chain_update(r.as_bytes())
                .chain_update(self.public.as_bytes())
                .chain_update(message),
        );
        let s = Zeroizing::new(challenge * *self.secret + *nonce);
        let mut signature = Vec::with_capacity(64);
        signature.extend_from_slice(r.as_bytes());
        signature.extend_from_slice(s.as_bytes());
        signature
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer as _;

    fn random<const N: usize>() -> [u8; N] {
        let mut bytes = [0u8; N];
        getrandom::fill(&mut bytes).unwrap();
        bytes
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The crate's key of the same seed (its static table) against ours: public key, PKCS#8,
    /// and every signature byte, on random seeds and messages up to three SHA-512 blocks.
    #[test]
    fn keys_and_signatures_match_the_crates() {
        for length in 0..400 {
            let seed = random();
            let theirs = ed25519_dalek::SigningKey::from_bytes(&seed);
            let ours = Ed25519Private::from_seed(&seed).unwrap();
            assert_eq!(ours.verifying_key(), theirs.verifying_key());
            assert_eq!(ours.seed(), &seed);
            let mut message = vec![0u8; length];
            getrandom::fill(&mut message).unwrap();
            let signature = ours.sign(&message);
            assert_eq!(
                signature,
                theirs.sign(&message).to_bytes().to_vec(),
                "length {length}"
            );
            let parsed = ed25519_dalek::Signature::from_slice(&signature).unwrap();
            theirs
                .verifying_key()
                .verify_strict(&message, &parsed)
                .unwrap();
            if length % 50 == 0 {
                let der = theirs.to_pkcs8_der().unwrap();
                assert_eq!(ours.to_pkcs8_der().unwrap().as_slice(), der.as_bytes());
                let again = Ed25519Private::from_pkcs8_der(der.as_bytes()).unwrap();
                assert_eq!(again.verifying_key(), theirs.verifying_key());
            }
        }
    }

    /// A PKCS#8 key whose public half is not its seed's is refused, as the crate refuses it.
    #[test]
    fn pkcs8_with_another_public_key_is_refused() {
        let seed = random();
        let other = ed25519_dalek::SigningKey::from_bytes(&random());
        let pair = KeypairBytes {
            secret_key: seed,
            public_key: Some(ed25519_dalek::pkcs8::PublicKeyBytes(
                other.verifying_key().to_bytes(),
            )),
        };
        let der = pair.to_pkcs8_der().unwrap();
        assert!(ed25519_dalek::SigningKey::from_pkcs8_der(der.as_bytes()).is_err());
        assert_eq!(
            Ed25519Private::from_pkcs8_der(der.as_bytes()).err(),
            Some(MALFORMED)
        );
        let without = KeypairBytes {
            secret_key: seed,
            public_key: None,
        }
        .to_pkcs8_der()
        .unwrap();
        assert!(Ed25519Private::from_pkcs8_der(without.as_bytes()).is_ok());
    }

    /// RFC 8032 section 7.1, TEST 2 (one byte, 0x72): the standard's own answer.
    #[test]
    fn rfc8032_test_2() {
        let seed = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
        let key = Ed25519Private::from_seed(&seed.try_into().unwrap()).unwrap();
        assert_eq!(
            key.verifying_key().as_bytes().to_vec(),
            hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        );
        assert_eq!(
            key.sign(&[0x72]),
            hex(concat!(
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da",
                "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
            ))
        );
    }
}
