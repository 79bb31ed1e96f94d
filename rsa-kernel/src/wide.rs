//! RSAVP1 (s^e mod n) for moduli wider than the fixed-size kernel holds (above 3078 bits:
//! RSA-4096 up to RSA-8192 and odd sizes between), on limbs of runtime length.
//!
//! Montgomery arithmetic on 32-bit limbs in `u64` products, carries propagated row by row
//! (separated operand scanning: the product first, then its reduction). It is variable time by
//! design: only public values pass through here (a signature, the modulus, `e`), as in
//! [`crate::PublicOp`]. Slower per limb than `monty`'s lazy-carry kernel, whose column bound
//! stops at 120 limbs of 28 bits; these key sizes are rare, and this keeps them off a second
//! big-integer library.

use crate::monty;

/// Widest modulus taken, in bits: bounds the cost per verification (callers cap keys lower).
const MAX_BITS: usize = 16_384;

/// An odd modulus of at least two limbs, with the constants its Montgomery arithmetic needs.
pub(crate) struct WideModulus {
    /// Little-endian 32-bit limbs; the top limb is not zero.
    m: Vec<u32>,
    /// −m⁻¹ mod 2^32.
    m_inv: u32,
    /// R² mod m, R = 2^(32·len): enters Montgomery form.
    r2: Vec<u32>,
}

impl WideModulus {
    /// From big-endian bytes without leading zeros. `None` for an even modulus, one of a single
    /// limb, or one above `MAX_BITS`.
    pub(crate) fn new(be: &[u8]) -> Option<Self> {
        if be.len() * 8 > MAX_BITS || be.first().is_none_or(|b| *b == 0) {
            return None;
        }
        let m = limbs_of(be, be.len().div_ceil(4))?;
        let m0 = *m.first()?;
        if m0 & 1 == 0 || m.len() < 2 {
            return None;
        }
        let m_inv = neg_inverse(m0);
        let mut wide = Self {
            m,
            m_inv,
            r2: Vec::new(),
        };
        wide.r2 = wide.r_squared();
        Some(wide)
    }

    /// The modulus's length in limbs.
    fn len(&self) -> usize {
        self.m.len()
    }

    /// base^e mod m for a big-endian `base` below m and a big-endian public exponent `e`, as
    /// exactly `out_len` big-endian bytes. `None` when the base does not fit.
    pub(crate) fn pow(&self, base: &[u8], e: &[u8], out_len: usize) -> Option<Vec<u8>> {
        let base = self.mul(&limbs_of(base, self.len())?, &self.r2);
        let top = monty::bit_length(e).checked_sub(1)?;
        let mut z = base.clone();
        for bit in (0..top).rev() {
            z = self.mul(&z, &z);
            let byte = e.get(e.len() - 1 - (bit >> 3)).copied().unwrap_or(0);
            if byte >> (bit & 7) & 1 == 1 {
                z = self.mul(&z, &base);
            }
        }
        let mut one = vec![0u32; self.len()];
        if let Some(first) = one.first_mut() {
            *first = 1;
        }
        to_be_bytes(&self.mul(&z, &one), out_len)
    }

    /// a·b·R⁻¹ mod m, below m, for a and b below m (each `len` limbs).
    fn mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        let n = self.len();
        // a·b + q·m < m² + R·m < 2·R·m: 2n + 1 limbs hold every step.
        let mut t = vec![0u32; 2 * n + 1];
        for (i, &ai) in a.iter().enumerate() {
            add_row(t.get_mut(i..).unwrap_or_default(), ai, b);
        }
        for i in 0..n {
            let q = t.get(i).copied().unwrap_or(0).wrapping_mul(self.m_inv);
            add_row(t.get_mut(i..).unwrap_or_default(), q, &self.m);
        }
        // (a·b + q·m) / R: the top n + 1 limbs, below 2m.
        let mut out = t.split_off(n);
        if !less_than(&out, &self.m) {
            subtract(&mut out, &self.m);
        }
        out.truncate(n);
        out
    }

    /// R² mod m: R mod m by doubling 1 (32·len times), then 2^(32·len) in Montgomery form by
    /// square and double (a Montgomery square of 2^k·R gives 2^2k·R).
    fn r_squared(&self) -> Vec<u32> {
        let n = self.len();
        let mut r = vec![0u32; n];
        if let Some(first) = r.first_mut() {
            *first = 1;
        }
        for _ in 0..32 * n {
            self.double(&mut r);
        }
        // r = 2^0 in Montgomery form; raise it to 2^(32n) over the bits of 32n.
        let exponent = 32 * n;
        let mut x = r;
        for bit in (0..usize::BITS - exponent.leading_zeros()).rev() {
            x = self.mul(&x, &x);
            if exponent >> bit & 1 == 1 {
                self.double(&mut x);
            }
        }
        x
    }

    /// x ← 2x mod m, for x below m.
    fn double(&self, x: &mut Vec<u32>) {
        let mut carry = 0u32;
        for limb in x.iter_mut() {
            let next = *limb >> 31;
            *limb = *limb << 1 | carry;
            carry = next;
        }
        x.push(carry);
        if !less_than(x, &self.m) {
            subtract(x, &self.m);
        }
        x.truncate(self.len());
    }
}

/// row += x·y, the carry run up `row` as far as it goes.
fn add_row(row: &mut [u32], x: u32, y: &[u32]) {
    let (head, tail) = row.split_at_mut(y.len().min(row.len()));
    let mut carry = 0u64;
    for (r, &yj) in head.iter_mut().zip(y) {
        // (2^32 − 1) + (2^32 − 1)² + (2^32 − 1) = 2^64 − 1: no overflow.
        let s = u64::from(*r) + u64::from(x) * u64::from(yj) + carry;
        *r = s as u32;
        carry = s >> 32;
    }
    for r in tail {
        if carry == 0 {
            break;
        }
        let s = u64::from(*r) + carry;
        *r = s as u32;
        carry = s >> 32;
    }
}

/// a < m, for `a` of at least `m.len()` limbs (little-endian).
fn less_than(a: &[u32], m: &[u32]) -> bool {
    if a.iter().skip(m.len()).any(|&limb| limb != 0) {
        return false;
    }
    for (x, y) in a.iter().zip(m).rev() {
        if x != y {
            return x < y;
        }
    }
    false
}

/// a −= m, for a ≥ m (little-endian, `a` at least as long as `m`).
fn subtract(a: &mut [u32], m: &[u32]) {
    let mut borrow = 0u64;
    for (i, x) in a.iter_mut().enumerate() {
        let y = u64::from(m.get(i).copied().unwrap_or(0));
        let d = u64::from(*x).wrapping_sub(y).wrapping_sub(borrow);
        *x = d as u32;
        borrow = d >> 63;
    }
}

/// −m0⁻¹ mod 2^32 for an odd m0 (Newton's iteration doubles the correct bits each step).
fn neg_inverse(m0: u32) -> u32 {
    let mut inv = 1u32;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(m0.wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}

/// Big-endian bytes into `n` little-endian 32-bit limbs; `None` when the value does not fit.
fn limbs_of(be: &[u8], n: usize) -> Option<Vec<u32>> {
    let mut out = vec![0u32; n];
    for (k, &byte) in be.iter().rev().enumerate() {
        if byte == 0 {
            continue;
        }
        *out.get_mut(k >> 2)? |= u32::from(byte) << ((k & 3) * 8);
    }
    Some(out)
}

/// Limbs into exactly `len` big-endian bytes; `None` when the value does not fit.
fn to_be_bytes(limbs: &[u32], len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    for (k, &limb) in limbs.iter().enumerate() {
        for (j, byte) in limb.to_le_bytes().into_iter().enumerate() {
            let at = 4 * k + j;
            match len.checked_sub(at + 1).and_then(|i| out.get_mut(i)) {
                Some(slot) => *slot = byte,
                None if byte != 0 => return None,
                None => {}
            }
        }
    }
    Some(out)
}

#[cfg(test)]
#[allow(
    clippy::integer_division_remainder_used,
    reason = "test oracle, no secret"
)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    struct Rng(u64);

    impl Rng {
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len)
                .map(|_| {
                    self.0 ^= self.0 << 13;
                    self.0 ^= self.0 >> 7;
                    self.0 ^= self.0 << 17;
                    self.0 as u8
                })
                .collect()
        }
    }

    fn odd_modulus(rng: &mut Rng, bytes: usize) -> BigUint {
        let mut m = rng.bytes(bytes);
        m[0] |= 0x80;
        *m.last_mut().unwrap() |= 1;
        BigUint::from_bytes_be(&m)
    }

    /// The oracle's answer as exactly `len` big-endian bytes.
    fn expected(base: &BigUint, e: &BigUint, m: &BigUint, len: usize) -> Vec<u8> {
        let r = base.modpow(e, m).to_bytes_be();
        let mut out = vec![0u8; len - r.len()];
        out.extend(r);
        out
    }

    #[test]
    fn pow_matches_num_bigint_across_sizes_and_exponents() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Sizes around limb boundaries, RSA-4096 and RSA-8192; exponents 3, 65537, a long one.
        for bytes in [9, 12, 13, 385, 512, 513, 768, 1024] {
            let m = odd_modulus(&mut rng, bytes);
            let wide = WideModulus::new(&m.to_bytes_be()).unwrap();
            let long_e = rng.bytes(9);
            for e in [vec![3u8], vec![1, 0, 1], long_e, vec![1]] {
                let e_big = BigUint::from_bytes_be(&e);
                for base in [
                    BigUint::from(0u8),
                    BigUint::from(1u8),
                    &m - 1u8,
                    BigUint::from_bytes_be(&rng.bytes(bytes)) % &m,
                ] {
                    let mut be = base.to_bytes_be();
                    be.insert(0, 0);
                    let got = wide.pow(&be, &e, bytes).unwrap();
                    assert_eq!(got, expected(&base, &e_big, &m, bytes), "{bytes} bytes");
                }
            }
        }
    }

    #[test]
    fn moduli_with_extreme_limbs_reduce_fully() {
        // All-ones and 2^k + 1 moduli: the final subtraction and long carry runs are taken.
        for m in [
            (BigUint::from(1u8) << 4096u32) - 1u8,
            (BigUint::from(1u8) << 4095u32) + 1u8,
            (BigUint::from(1u8) << 3105u32) - 3u8,
        ] {
            let len = m.to_bytes_be().len();
            let wide = WideModulus::new(&m.to_bytes_be()).unwrap();
            for base in [&m - 1u8, &m - 2u8, BigUint::from(2u8)] {
                let got = wide.pow(&base.to_bytes_be(), &[1, 0, 1], len).unwrap();
                assert_eq!(got, expected(&base, &BigUint::from(65537u32), &m, len));
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_hold() {
        assert!(
            WideModulus::new(&[0x80, 0, 0, 0, 0, 0, 0, 2]).is_none(),
            "even"
        );
        assert!(
            WideModulus::new(&[0x7f, 0xff, 0xff, 0xff]).is_none(),
            "one limb"
        );
        assert!(
            WideModulus::new(&[0, 0x80, 0, 0, 0, 0, 0, 1]).is_none(),
            "leading zero"
        );
        assert!(WideModulus::new(&[]).is_none());
        let mut big = vec![0xff; MAX_BITS / 8 + 1];
        *big.last_mut().unwrap() = 1;
        assert!(WideModulus::new(&big).is_none(), "above MAX_BITS");
        let m = WideModulus::new(&[0x80, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        assert!(
            m.pow(&[1; 9], &[3], 8).is_none(),
            "base wider than the modulus"
        );
        assert!(m.pow(&[5], &[], 8).is_none(), "no exponent");
    }
}
