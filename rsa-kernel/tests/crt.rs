//! The kernel against an independent big-integer oracle (num-bigint) and the `rsa` crate, on
//! the project's fixture keys (`tests/fixtures/jose`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use jwt_relay_rsa::{pad, CrtKey, Hash};
use num_bigint::BigUint;
use rsa::pkcs1::{RsaPrivateKeyRef, UintRef};
use rsa::pkcs8::der::Decode as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use rsa::PrivateKey;
use sha2::{Digest as _, Sha256};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../tests/fixtures/jose/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

/// The key's members as big-endian bytes: n, e, d, p, q, dp, dq, qi (straight from the DER,
/// so keys the `rsa` crate would refuse can be used too).
fn members(name: &str) -> [Vec<u8>; 8] {
    let pem = fixture(name);
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

fn encoded(len: usize) -> Vec<u8> {
    pad::pkcs1v15(Hash::Sha256, &Sha256::digest(b"m"), len).unwrap()
}

/// The `rsa` crate refuses keys whose primes differ in width, but the kernel takes them
/// (p of 960 bits, q of 1088: the 37-limb kernel cannot hold q, the 55-limb one pads).
#[test]
fn unbalanced_primes_sign_like_the_oracle() {
    let [n, e, d, p, q, dp, dq, qi] = members("rsa2048_unbalanced_pkcs8.pem");
    let crt = CrtKey::new(&n, &e, [&p, &q, &dp, &dq, &qi]).unwrap();
    let c = encoded(256);
    let want =
        BigUint::from_bytes_be(&c).modpow(&BigUint::from_bytes_be(&d), &BigUint::from_bytes_be(&n));
    let got = crt.private_op(&c).unwrap();
    assert_eq!(BigUint::from_bytes_be(&got), want);
}

/// A fault in one CRT half (here a wrong d_p) would leak a prime through gcd(s^e − c, n)
/// (Bellcore): the check withholds the signature instead, on every check path (the fixed-size
/// public kernel modulo n for RSA-2048 and RSA-3072, the runtime-sized one for RSA-4096).
#[test]
fn a_faulty_crt_result_is_withheld() {
    for name in [
        "rsa2048_pkcs8.pem",
        "rsa3072_pkcs8.pem",
        "rsa4096_pkcs8.pem",
    ] {
        let key = PrivateKey::from_pkcs8_pem(&fixture(name)).unwrap();
        let [n, e, _d, p, q, dp, dq, qi] = members(name);
        assert_eq!(key.n_bytes().as_ref(), n.as_slice());
        let mut bad_dp = dp.clone();
        if let Some(last) = bad_dp.last_mut() {
            *last ^= 2;
        }
        let c = encoded(n.len());
        let faulty = CrtKey::new(&n, &e, [&p, &q, &bad_dp, &dq, &qi]).unwrap();
        assert!(faulty.private_op(&c).is_none(), "{name}");
        let sound = CrtKey::new(&n, &e, [&p, &q, &dp, &dq, &qi]).unwrap();
        let s = sound.private_op(&c).unwrap();
        let d = BigUint::from_bytes_be(&key.d().to_be_bytes());
        let want = BigUint::from_bytes_be(&c).modpow(&d, &BigUint::from_bytes_be(&n));
        assert_eq!(BigUint::from_bytes_be(&s), want, "{name}");
    }
}
