//! The kernel against the `rsa` crate on keys generated afresh at every run (2048, 3072 and
//! 4096 bits): PKCS#1 v1.5 signatures are deterministic, so both must give the same bytes for
//! every message; PSS signatures (random salt) must verify with the `rsa` crate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use getrandom::rand_core::UnwrapErr;
use getrandom::SysRng;
use jwt_relay_rsa::{pad, CrtKey, Hash};
use proptest::prelude::*;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::der::Decode as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{Pkcs1v15Sign, PrivateKey, Pss};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use std::sync::OnceLock;

/// A fresh key and the kernel's form of it.
struct Fresh {
    key: PrivateKey,
    kernel: CrtKey,
}

fn fresh(bits: usize) -> Fresh {
    let key = PrivateKey::new(&mut UnwrapErr(SysRng), bits).unwrap();
    let der = key.to_pkcs1_der().unwrap();
    let k = rsa::pkcs1::RsaPrivateKeyRef::from_der(der.as_bytes()).unwrap();
    let kernel = CrtKey::new(
        k.modulus.as_bytes(),
        k.public_exponent.as_bytes(),
        [
            k.prime1.as_bytes(),
            k.prime2.as_bytes(),
            k.exponent1.as_bytes(),
            k.exponent2.as_bytes(),
            k.coefficient.as_bytes(),
        ],
    )
    .expect("the kernel holds every two-prime key up to RSA-4096");
    Fresh { key, kernel }
}

fn key(bits: usize) -> &'static Fresh {
    static KEYS: [OnceLock<Fresh>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match bits {
        2048 => &KEYS[0],
        3072 => &KEYS[1],
        _ => &KEYS[2],
    };
    slot.get_or_init(|| fresh(bits))
}

fn hashed(hash: Hash, msg: &[u8]) -> Vec<u8> {
    match hash {
        Hash::Sha256 => Sha256::digest(msg).to_vec(),
        Hash::Sha384 => Sha384::digest(msg).to_vec(),
        Hash::Sha512 => Sha512::digest(msg).to_vec(),
    }
}

fn reference_pkcs1v15(key: &PrivateKey, hash: Hash, digest: &[u8]) -> Vec<u8> {
    let scheme = match hash {
        Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
        Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
        Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
    };
    key.sign(scheme, digest).unwrap()
}

fn pss_verifies(key: &PrivateKey, hash: Hash, digest: &[u8], signature: &[u8]) -> bool {
    let public = key.to_public_key();
    match hash {
        Hash::Sha256 => public.verify(Pss::<Sha256>::new(), digest, signature),
        Hash::Sha384 => public.verify(Pss::<Sha384>::new(), digest, signature),
        Hash::Sha512 => public.verify(Pss::<Sha512>::new(), digest, signature),
    }
    .is_ok()
}

fn hash_strategy() -> impl Strategy<Value = Hash> {
    prop_oneof![Just(Hash::Sha256), Just(Hash::Sha384), Just(Hash::Sha512)]
}

fn size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![Just(2048usize), Just(3072), Just(4096)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn kernel_signs_like_the_rsa_crate_on_fresh_keys(
        bits in size_strategy(),
        hash in hash_strategy(),
        msg in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let Fresh { key, kernel } = key(bits);
        let digest = hashed(hash, &msg);
        let len = key.size();
        let encoded = pad::pkcs1v15(hash, &digest, len).unwrap();
        let ours = kernel.private_op(&encoded).unwrap();
        let reference = reference_pkcs1v15(key, hash, &digest);
        prop_assert_eq!(ours.as_slice(), reference.as_slice());

        let salt: Vec<u8> = msg.iter().chain(&digest).copied().take(digest.len()).collect();
        let encoded = pad::pss(hash, &digest, &salt, key.n().bit_width() as usize).unwrap();
        let signature = kernel.private_op(&encoded).unwrap();
        prop_assert!(pss_verifies(key, hash, &digest, &signature));
    }
}
