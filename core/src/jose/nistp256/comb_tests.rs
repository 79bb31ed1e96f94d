//! The comb against the `p256` crate's k·G, and the protections that keep k secret.

use std::cell::Cell;

use p256::elliptic_curve::ff::PrimeField as _;
use p256::elliptic_curve::sec1::ToSec1Point as _;
use p256::{ProjectivePoint, Scalar};
use sha2::{Digest as _, Sha256};

use super::*;
use crate::jose::nistp256::hex32;

thread_local! {
    /// Table limbs `lookup` has read (counted in test builds only).
    pub(super) static READS: Cell<usize> = const { Cell::new(0) };
}

const ORDER: [u8; 32] = hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

/// n − `small`, big-endian.
fn order_minus(small: u8) -> [u8; 32] {
    let mut k = ORDER;
    k[31] -= small;
    k
}

fn small(v: u64) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[24..].copy_from_slice(&v.to_be_bytes());
    k
}

/// Nonces whose digits hit every case: zero digits, 16 and −16, carries that run the whole
/// way, the top digit set, and random ones.
fn nonces() -> Vec<[u8; 32]> {
    let mut out = vec![
        small(1),
        small(2),
        small(8),
        small(9),
        small(15),
        small(16),
        small(17),
        small(31),
        small(32),
        small(33),
        small(0x88),
        small(0x8421_0842_1084_2108),
        small(0x1_0000_0000),
        small(u64::MAX),
        order_minus(1),
        order_minus(2),
        [0x88; 32],
        [0x99; 32],
        [0x77; 32],
        hex32("7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8"),
    ];
    out.extend((0u32..64).map(|i| <[u8; 32]>::from(Sha256::digest(i.to_be_bytes()))));
    out
}

fn crate_x(k: &[u8; 32]) -> Vec<u8> {
    let scalar = Scalar::from_repr((*k).into()).unwrap();
    let point = (ProjectivePoint::GENERATOR * scalar).to_affine();
    point.to_sec1_point(false).x().unwrap().to_vec()
}

#[test]
fn k_g_is_the_crates_for_every_kind_of_digit() {
    for k in nonces() {
        let x = mul_generator_x(&k).unwrap();
        assert_eq!(x.to_vec(), crate_x(&k), "k = {k:02x?}");
    }
}

#[test]
fn digits_rebuild_the_nonce_and_stay_in_range() {
    for k in nonces() {
        let digits = recode(&k);
        let mut acc = Scalar::ZERO;
        for &d in digits.iter().rev() {
            assert!((-16..=16).contains(&d), "digit {d}");
            acc *= Scalar::from(32u64);
            let magnitude = Scalar::from(u64::from(d.unsigned_abs()));
            acc = if d < 0 {
                acc - magnitude
            } else {
                acc + magnitude
            };
        }
        assert_eq!(acc, Scalar::from_repr(k.into()).unwrap(), "k = {k:02x?}");
        assert!(
            (0..=2).contains(&digits[DIGITS - 1]),
            "the top digit holds bit 255 and a carry"
        );
    }
}

#[test]
fn table_rows_hold_the_crates_multiples() {
    let table = table().unwrap();
    assert_eq!(table.rows.len(), DIGITS);
    for (i, row) in table.rows.iter().enumerate().step_by(13) {
        for (j, entry) in (1u64..).zip(row) {
            let base = (0..i).fold(Scalar::ONE, |acc, _| acc * Scalar::from(32u64));
            let scalar = base * Scalar::from(j);
            let expected = (ProjectivePoint::GENERATOR * scalar).to_affine();
            let expected = expected.to_sec1_point(false);
            assert_eq!(
                entry.x.to_be_bytes().as_slice(),
                expected.x().unwrap().as_slice()
            );
            assert_eq!(
                entry.y.to_be_bytes().as_slice(),
                expected.y().unwrap().as_slice()
            );
        }
    }
}

/// Every digit reads all 16 entries limb by limb and still picks the right one, negated for a
/// negative digit, and 1·Bᵢ for zero: a plain `row[index]` (memory access following the secret
/// digit) reads one entry and fails here.
#[test]
fn lookup_reads_every_entry_for_every_digit() {
    let row = &table().unwrap().rows[5];
    for digit in -16i8..=16 {
        READS.with(|reads| reads.set(0));
        let (entry, is_zero) = lookup(row, digit);
        assert_eq!(
            READS.with(Cell::get),
            ENTRIES * super::super::field::N,
            "digit {digit}"
        );
        assert_eq!(bool::from(is_zero), digit == 0);
        // A zero digit gets 1·Bᵢ, a genuine point (its sum is dropped).
        let expected = row[usize::from(digit.unsigned_abs().max(1)) - 1];
        let expected = if digit < 0 { expected.neg() } else { expected };
        assert_eq!(entry, expected, "digit {digit}");
    }
}

fn projective(p: &Affine, lambda: u64) -> Projective {
    // (λx : λy : λ), the same point with another Z.
    let l = Fe::ONE.mul(&Fe::from_be_bytes(&small(lambda)).unwrap());
    Projective {
        x: p.x.mul(&l),
        y: p.y.mul(&l),
        z: l,
    }
}

/// The addition needs no special case: P + P, P + (−P) and O + Q come out right.
#[test]
fn addition_is_complete() {
    let table = table().unwrap();
    let g = table.rows[0][0];
    let two_g = table.rows[0][1];
    let b = &table.b;
    for lambda in [1u64, 7, 0xdead_beef] {
        let p = projective(&g, lambda);
        assert_eq!(
            p.add_affine(&g, b).to_affine(),
            two_g,
            "G + G, λ = {lambda}"
        );
        let zero = p.add_affine(&g.neg(), b);
        assert!(
            zero.z.is_zero() && !zero.y.is_zero(),
            "G + (−G) is the identity"
        );
        let three_g = projective(&two_g, lambda).add_affine(&g, b).to_affine();
        assert_eq!(three_g, table.rows[0][2], "2G + G");
    }
    let from_identity = Projective::IDENTITY.add_affine(&two_g, b).to_affine();
    assert_eq!(from_identity, two_g, "O + 2G");
    let identity = Projective::IDENTITY.to_affine();
    assert!(
        !on_curve(&identity),
        "the identity's affine form fails the final check"
    );
}
