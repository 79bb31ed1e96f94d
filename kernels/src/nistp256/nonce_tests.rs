//! RFC 6979 nonces against the rfc6979 crate (draw for draw), RFC 6979's P-256 examples, and
//! the range checks at their edges.

use p256::elliptic_curve::Curve as _;
use p256::{NistP256, U256};
use rfc6979::KGenerator;
use sha2::{Digest as _, Sha256};

use super::*;
use crate::nistp256::hex32;
use crate::sha256::{set_rounds, Rounds};

fn crate_draws(x: &[u8; 32], digest: &[u8; 32], count: usize) -> Vec<[u8; 32]> {
    let order = NistP256::ORDER;
    let mut generator = KGenerator::<Sha256, U256>::new(x, digest, &[], &order);
    (0..count)
        .map(|_| {
            let mut k = [0u8; 32];
            generator.fill_next_k(&mut k);
            k
        })
        .collect()
}

fn our_draws(x: &[u8; 32], digest: &[u8; 32], count: usize) -> Vec<[u8; 32]> {
    let mut nonces = Nonces::unseeded();
    nonces.seed(x, digest);
    (0..count).map(|_| *nonces.next()).collect()
}

fn bytes(label: &str, i: u32) -> [u8; 32] {
    Sha256::digest(format!("{label} {i}")).into()
}

/// Three draws each (the first is the nonce; later ones follow a closing reseed), on both
/// block functions, with digests below and above the order.
#[test]
fn draws_are_the_crates() {
    for rounds in [Rounds::Unrolled, Rounds::Scheduled] {
        set_rounds(rounds);
        for i in 0..40 {
            let x = bytes("x", i);
            let mut digests = vec![bytes("digest", i)];
            if i < 4 {
                digests.extend([[0xff; 32], ORDER_BE, [0; 32]]);
            }
            for digest in digests {
                assert_eq!(
                    our_draws(&x, &digest, 3),
                    crate_draws(&x, &digest, 3),
                    "{i}"
                );
            }
        }
    }
    set_rounds(Rounds::Unrolled);
}

/// RFC 6979, A.2.5: the nonces for P-256 with SHA-256, messages "sample" and "test".
#[test]
fn rfc_6979_nonces() {
    let x = hex32("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
    for (message, k) in [
        (
            "sample",
            "a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60",
        ),
        (
            "test",
            "d16b6ae827f17175e040871a1c7ec3500192c4c92677336ec2537acaee0008e0",
        ),
    ] {
        let digest: [u8; 32] = Sha256::digest(message).into();
        let mut nonces = Nonces::unseeded();
        nonces.seed(&x, &digest);
        assert_eq!(*nonces.next(), hex32(k), "{message}");
    }
}

fn minus(mut value: [u8; 32], small: u8) -> [u8; 32] {
    let (out, _) = sub_be(&value, &{
        let mut b = [0u8; 32];
        b[31] = small;
        b
    });
    value.copy_from_slice(&out);
    value
}

#[test]
fn nonces_are_between_one_and_the_order() {
    let order_minus_1 = minus(ORDER_BE, 1);
    let mut one = [0u8; 32];
    one[31] = 1;
    assert!(bool::from(in_range(&one)));
    assert!(bool::from(in_range(&order_minus_1)));
    assert!(!bool::from(in_range(&[0; 32])));
    assert!(!bool::from(in_range(&ORDER_BE)));
    assert!(!bool::from(in_range(&[0xff; 32])));
}

#[test]
fn digests_reduce_below_the_order() {
    let order_minus_1 = minus(ORDER_BE, 1);
    let mut one = [0u8; 32];
    one[31] = 1;
    let mut order_plus_1 = ORDER_BE;
    order_plus_1[31] += 1;
    assert_eq!(reduce_below_order(&ORDER_BE), [0; 32]);
    assert_eq!(reduce_below_order(&order_plus_1), one);
    assert_eq!(reduce_below_order(&order_minus_1), order_minus_1);
    assert_eq!(reduce_below_order(&[0; 32]), [0; 32]);
    assert_eq!(
        reduce_below_order(&[0xff; 32]),
        sub_be(&[0xff; 32], &ORDER_BE).0
    );
}
