//! ES256 signing against the `p256` crate (byte for byte) and RFC 6979's example.

use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest as _, Sha256};

use super::*;
use crate::nistp256::hex32;

fn key(seed: u32) -> SigningKey {
    let d: [u8; 32] = Sha256::digest(format!("signing key {seed}")).into();
    SigningKey::from_slice(&d).unwrap()
}

#[test]
fn signatures_are_the_crates_byte_for_byte() {
    for seed in 0..48 {
        let key = key(seed);
        for message in [&b""[..], b"a", b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0"] {
            let digest: [u8; 32] = Sha256::digest(message).into();
            let ours = sign(&key, &digest).unwrap();
            let theirs: Signature = key.sign(message);
            assert_eq!(ours.to_bytes(), theirs.to_bytes(), "key {seed}");
            assert!(key.verifying_key().verify_prehash(&digest, &ours).is_ok());
        }
    }
}

/// RFC 6979, A.2.5: P-256, SHA-256, message "sample".
#[test]
fn rfc_6979_example() {
    let key = SigningKey::from_slice(&hex32(
        "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
    ))
    .unwrap();
    let digest: [u8; 32] = Sha256::digest(b"sample").into();
    let signature = sign(&key, &digest).unwrap().to_bytes();
    let (r, s) = signature.split_at(32);
    assert_eq!(
        r,
        hex32("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716")
    );
    assert_eq!(
        s,
        hex32("f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8")
    );
}
