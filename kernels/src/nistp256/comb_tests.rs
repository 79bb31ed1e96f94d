//! The comb against the `p256` crate's k·G, and the protections that keep k secret.

use std::cell::Cell;

use p256::elliptic_curve::ff::PrimeField as _;
use p256::elliptic_curve::sec1::ToSec1Point as _;
use p256::{ProjectivePoint, Scalar};
use sha2::{Digest as _, Sha256};

use super::*;
use crate::nistp256::hex32;

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

/// 2^256 − n, big-endian: the one odd multiplier whose last addition is a doubling.
fn exceptional() -> [u8; 32] {
    sub_be(&[0; 32], &ORDER).0
}

/// Nonces whose digits hit every case: odd and even (so n − k), all digits −31 (k = 1), all
/// +31, windows at 15 and 16, the largest and smallest nonces, and random ones.
fn nonces() -> Vec<[u8; 32]> {
    let mut out = vec![
        small(1),
        small(2),
        small(3),
        small(31),
        small(32),
        small(33),
        small(63),
        small(64),
        small(0x88),
        small(0x8421_0842_1084_2108),
        small(0x1_0000_0000),
        small(u64::MAX),
        order_minus(1),
        order_minus(2),
        order_minus(3),
        [0x88; 32],
        [0x99; 32],
        [0x77; 32],
        [0x7f; 32],
        hex32("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        hex32("8000000000000000000000000000000000000000000000000000000000000001"),
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

fn scalar(k: &[u8; 32]) -> Scalar {
    Scalar::from_repr((*k).into()).unwrap()
}

#[test]
fn k_g_is_the_crates_for_every_kind_of_digit() {
    for k in nonces() {
        let x = mul_generator_x(&k).unwrap();
        assert_eq!(x.to_vec(), crate_x(&k), "k = {k:02x?}");
    }
}

/// The odd multiplier is k or n − k, and the digits (all odd, in [−31, 31]) with the fixed
/// top digit add up to it.
#[test]
fn digits_rebuild_the_odd_multiplier() {
    for k in nonces() {
        let mut odd_be = odd_multiplier(&k);
        odd_be.reverse();
        let odd = scalar(&odd_be);
        let k_scalar = scalar(&k);
        if k[31] & 1 == 1 {
            assert_eq!(odd, k_scalar, "an odd k stays");
        } else {
            assert_eq!(odd, -k_scalar, "an even k becomes n − k");
        }
        assert_eq!(odd_be[31] & 1, 1, "k′ is odd");
        let digits = recode(&k);
        let mut acc = Scalar::ONE; // the top digit, 1 at 32^51
        for digit in digits.iter().rev() {
            assert!(digit.index < 16 && digit.negative < 2);
            acc *= Scalar::from(32u64);
            let magnitude = Scalar::from(2 * u64::from(digit.index) + 1);
            acc = if digit.negative == 1 {
                acc - magnitude
            } else {
                acc + magnitude
            };
        }
        assert_eq!(acc, odd, "k = {k:02x?}");
    }
}

/// Row i holds the odd multiples of 32^i·G, and the top point is 2^255·G.
#[test]
fn table_rows_hold_the_crates_multiples() {
    let table = table().unwrap();
    assert_eq!(table.rows.len(), ROWS);
    let expected = |s: Scalar| {
        let point = (ProjectivePoint::GENERATOR * s)
            .to_affine()
            .to_sec1_point(false);
        (point.x().unwrap().to_vec(), point.y().unwrap().to_vec())
    };
    let actual = |p: &Affine| (p.x.to_be_bytes().to_vec(), p.y.to_be_bytes().to_vec());
    let power = |i: usize| (0..i).fold(Scalar::ONE, |acc, _| acc * Scalar::from(32u64));
    for (i, row) in table.rows.iter().enumerate().step_by(10) {
        for (j, entry) in (0u64..).zip(row) {
            let multiple = power(i) * Scalar::from(2 * j + 1);
            let words = entry.0;
            assert_eq!(actual(&Packed::unpack(&words)), expected(multiple));
        }
    }
    let top = power(51) * Scalar::from(1u64);
    assert_eq!(actual(&table.top), expected(top), "2^255·G");
}

/// Every digit reads all 16 entries word by word and still picks the right one, negated for
/// a negative digit: a plain `row[index]` (memory access following the secret digit) reads one
/// entry and fails here.
#[test]
fn lookup_reads_every_entry_for_every_digit() {
    let row = &table().unwrap().rows[5];
    for index in 0u8..16 {
        for negative in [0u8, 1] {
            READS.with(|reads| reads.set(0));
            let entry = lookup(row, Digit { index, negative });
            assert_eq!(READS.with(Cell::get), ENTRIES * N, "index {index}");
            let expected = Packed::unpack(&row[usize::from(index)].0);
            let expected = if negative == 1 {
                expected.neg()
            } else {
                expected
            };
            assert_eq!(entry, expected, "index {index}, negative {negative}");
        }
    }
}

fn jacobian(p: &Affine, lambda: u64) -> Jacobian {
    // (λ²x : λ³y : λ), the same point with another Z.
    let l = Fe::ONE.mul(&Fe::from_be_bytes(&small(lambda)).unwrap());
    let l2 = l.square();
    Jacobian {
        x: p.x.mul(&l2),
        y: p.y.mul(&l2.mul(&l)),
        z: l,
    }
}

/// The constant-time addition agrees with the verifier's (branching) one on distinct points
/// whatever Z, and gives (0 : 0 : 0) when both are equal: the case the module comment rules
/// out for every nonce but one.
#[test]
fn addition_is_right_off_its_exceptional_case() {
    let table = table().unwrap();
    let g = Packed::unpack(&table.rows[0][0].0);
    let three_g = Packed::unpack(&table.rows[0][1].0);
    for lambda in [1u64, 7, 0xdead_beef] {
        let p = jacobian(&three_g, lambda);
        let sum = to_affine(&add_affine(&p, &g));
        let expected = to_affine_batch(&[Jacobian::from_affine(&three_g).add_affine(&g)]);
        assert_eq!(Some(vec![sum]), expected, "3G + G, λ = {lambda}");
        let sum = to_affine(&add_affine(&p, &g.neg()));
        let expected = to_affine_batch(&[Jacobian::from_affine(&three_g).add_affine(&g.neg())]);
        assert_eq!(Some(vec![sum]), expected, "3G − G, λ = {lambda}");
        let same = add_affine(&jacobian(&g, lambda), &g);
        assert!(same.x.is_zero() && same.y.is_zero() && same.z.is_zero());
    }
    assert!(!on_curve(&to_affine(&add_affine(&jacobian(&g, 5), &g))));
}

/// The one nonce whose last addition doubles (k′ = 2^256 − n, reached from k = 2^256 − n and
/// from the even k = 2n − 2^256) gives no x, so the signer falls back to the crate; the
/// nonces beside it give the crate's x.
#[test]
fn the_exceptional_nonce_is_refused_not_miscomputed() {
    let odd = exceptional();
    let even = sub_be(&ORDER, &odd).0;
    assert_eq!(scalar(&even), -scalar(&odd));
    assert_eq!(mul_generator_x(&odd), None);
    assert_eq!(mul_generator_x(&even), None);
    let mut neighbour = odd;
    neighbour[31] += 2;
    assert_eq!(
        mul_generator_x(&neighbour).unwrap().to_vec(),
        crate_x(&neighbour)
    );
}

#[test]
fn odd_multiplier_keeps_odd_nonces_and_flips_even_ones() {
    let le = |be: [u8; 32]| {
        let mut le = be;
        le.reverse();
        le
    };
    assert_eq!(odd_multiplier(&small(1)), le(small(1)));
    assert_eq!(odd_multiplier(&small(2)), le(order_minus(2)));
    assert_eq!(odd_multiplier(&order_minus(1)), le(small(1)));
    assert_eq!(odd_multiplier(&order_minus(2)), le(order_minus(2)));
}
