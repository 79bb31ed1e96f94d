//! The fast verifier against the `p256` crate: the same answer on every input here.

use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToSec1Point as _;
use p256::elliptic_curve::PrimeField as _;
use sha2::{Digest as _, Sha256};

use super::*;
use crate::nistp256::{hex32, point};

/// A key from a seed (deterministic tests, no RNG).
fn key(seed: u32) -> SigningKey {
    let d: [u8; 32] = Sha256::digest(seed.to_be_bytes()).into();
    SigningKey::from_slice(&d).unwrap()
}

fn verifier(key: &SigningKey) -> P256Verifier {
    let point = key.verifying_key().to_sec1_point(false);
    let x: [u8; 32] = point.x().unwrap().as_slice().try_into().unwrap();
    let y: [u8; 32] = point.y().unwrap().as_slice().try_into().unwrap();
    P256Verifier::new(&x, &y).unwrap()
}

/// The crate's own answer for a prehashed message.
fn crate_says(key: &SigningKey, digest: &[u8; 32], sig: &Signature) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
    key.verifying_key().verify_prehash(digest, sig).is_ok()
}

fn digest(i: u32) -> [u8; 32] {
    Sha256::digest(format!("message {i}")).into()
}

#[test]
fn generator_tables_hold_the_crate_multiples() {
    let tables = generator_tables().unwrap();
    let g = p256::ProjectivePoint::GENERATOR;
    for k in [1u64, 3, 5, 31, 63] {
        let expected = (g * Scalar::from(k)).to_affine().to_sec1_point(false);
        let entry = tables.low.get(k as i8).unwrap();
        assert_eq!(
            entry.x.to_be_bytes().as_slice(),
            expected.x().unwrap().as_slice(),
            "{k}G"
        );
        assert_eq!(
            entry.y.to_be_bytes().as_slice(),
            expected.y().unwrap().as_slice(),
            "{k}G"
        );
        let negative = tables.low.get(-(k as i8)).unwrap();
        assert_eq!(negative.x, entry.x);
        assert_eq!(negative.y, entry.y.neg(), "-{k}G");
    }
    let two_128 = Scalar::from_u128(u128::MAX) + Scalar::ONE;
    let expected = (g * two_128).to_affine().to_sec1_point(false);
    let entry = tables.high.get(1).unwrap();
    assert_eq!(
        entry.x.to_be_bytes().as_slice(),
        expected.x().unwrap().as_slice()
    );
}

#[test]
fn off_curve_points_are_refused() {
    let mut y = GY;
    y[31] ^= 1;
    assert!(P256Verifier::new(&GX, &y).is_none());
    assert!(P256Verifier::new(&[0xff; 32], &GY).is_none(), "x above p");
    assert!(P256Verifier::new(&GX, &GY).is_some());
}

#[test]
fn wnaf_digits_rebuild_the_scalar() {
    let samples = (0..200u32).map(|i| u128::from_be_bytes(digest(i)[..16].try_into().unwrap()));
    let edges = [0u128, 1, u128::MAX, u128::MAX - 1, 1 << 127, (1 << 127) - 1];
    for k in samples.chain(edges) {
        for width in [G_WIDTH, Q_WIDTH, 2, 4] {
            let digits = wnaf::wnaf(k, width);
            let mut acc = Scalar::ZERO;
            let mut last_nonzero: Option<usize> = None;
            for (i, &d) in digits.iter().enumerate().rev() {
                acc = acc.double();
                if d != 0 {
                    assert!(d % 2 != 0, "odd digit");
                    assert!(i32::from(d).abs() < 1 << (width - 1), "digit in range");
                    if let Some(above) = last_nonzero {
                        assert!(above - i >= width as usize, "zeros between digits");
                    }
                    last_nonzero = Some(i);
                    let magnitude = Scalar::from(u64::from(d.unsigned_abs()));
                    acc = if d > 0 {
                        acc + magnitude
                    } else {
                        acc - magnitude
                    };
                }
            }
            let expected = Scalar::from_u128(k);
            assert_eq!(acc, expected, "k = {k:#x}, width {width}");
        }
    }
}

#[test]
fn agrees_with_the_crate_on_valid_and_altered_signatures() {
    for seed in 0..24 {
        let key = key(seed);
        let fast = verifier(&key);
        for i in 0..4 {
            let digest = digest(seed * 10 + i);
            let sig: Signature = key.sign_prehash(&digest).unwrap();
            assert_eq!(
                fast.verify(&digest, &sig),
                Some(true),
                "key {seed}, message {i}"
            );
            // Another message, another key, and each half of the signature altered.
            let other = digest_flip(&digest);
            assert_eq!(fast.verify(&other, &sig), Some(false));
            assert_eq!(
                verifier(&self::key(seed + 100)).verify(&digest, &sig),
                Some(false)
            );
            let (r, s) = sig.split_scalars();
            for (r2, s2) in [(*r + Scalar::ONE, *s), (*r, *s + Scalar::ONE), (*s, *r)] {
                let Ok(altered) = Signature::from_scalars(r2.to_repr(), s2.to_repr()) else {
                    continue;
                };
                let ours = fast.verify(&digest, &altered).unwrap();
                assert_eq!(ours, crate_says(&key, &digest, &altered));
                assert!(!ours);
            }
            // −s is as valid as s for ECDSA (no low-s rule for P-256 in JOSE or in the crate).
            let high = Signature::from_scalars(r.to_repr(), (-*s).to_repr()).unwrap();
            assert_eq!(fast.verify(&digest, &high), Some(true));
            assert!(crate_says(&key, &digest, &high));
        }
    }
}

fn digest_flip(d: &[u8; 32]) -> [u8; 32] {
    let mut out = *d;
    out[7] ^= 0x10;
    out
}

#[test]
fn digests_at_or_above_the_order_reduce_like_the_crate() {
    // z ≡ 0 (u1 = 0: only the key's term), z = n, z = n + 1 and all ones.
    let order = hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let mut n_plus_1 = order;
    n_plus_1[31] += 1;
    let key = key(7);
    let fast = verifier(&key);
    for digest in [[0u8; 32], order, n_plus_1, [0xff; 32]] {
        let sig: Signature = key.sign_prehash(&digest).unwrap();
        assert_eq!(fast.verify(&digest, &sig), Some(true));
        assert!(crate_says(&key, &digest, &sig));
    }
}

#[test]
fn random_signatures_are_refused_like_the_crate() {
    let key = key(3);
    let fast = verifier(&key);
    for i in 0..64 {
        let r = digest(1000 + i);
        let s = digest(2000 + i);
        let Ok(sig) = Signature::from_scalars(r, s) else {
            continue;
        };
        let digest = digest(i);
        assert_eq!(
            fast.verify(&digest, &sig),
            Some(crate_says(&key, &digest, &sig))
        );
    }
}

fn affine(p: &Jacobian) -> Affine {
    point::to_affine_batch(&[*p]).unwrap()[0]
}

#[test]
fn addition_handles_its_exceptional_cases() {
    let g = point_from_bytes(&GX, &GY).unwrap();
    // 3G with Z ≠ 1, then + 3G (equal points: a doubling) and + (−3G) (infinity).
    let three = Jacobian::from_affine(&g).double().add_affine(&g);
    let three_affine = affine(&three);
    let six = Jacobian::from_affine(&g).double().add_affine(&g).double();
    assert_eq!(affine(&three.add_affine(&three_affine)), affine(&six));
    assert!(three.add_affine(&three_affine.neg()).is_infinity());
    // Infinity + P = P, and 2·infinity = infinity.
    assert_eq!(affine(&Jacobian::INFINITY.add_affine(&g)), g);
    assert!(Jacobian::INFINITY.double().is_infinity());
    // 6G from the crate.
    let expected = (p256::ProjectivePoint::GENERATOR * Scalar::from(6u64))
        .to_affine()
        .to_sec1_point(false);
    assert_eq!(
        affine(&six).x.to_be_bytes().as_slice(),
        expected.x().unwrap().as_slice()
    );
}
