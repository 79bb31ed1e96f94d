//! Arithmetic modulo the P-256 prime p = 2^256 − 2^224 + 2^192 + 2^96 − 1.
//!
//! Nine limbs of 29 bits in `u32`, Montgomery form with R = 2^261. The multiplication adds its
//! products into 64-bit columns without carrying ("lazy carries", as in the RSA kernel). Because
//! p ≡ −1 (mod 2^29), −p⁻¹ mod 2^29 is 1 and each reduction step's multiplier is the column's
//! low 29 bits; and because p = 2^256 − 2^224 + 2^192 + 2^96 − 1 has five terms, a reduction
//! step adds four shifted copies of that multiplier instead of a row of nine products. A
//! column then holds at most nine products below 2^58, four shifted multipliers below 2^53 and
//! a carry: well inside a signed 64-bit column (signed, because the −2^224 term subtracts). V8
//! has no 64×64→128 multiply; this layout needs only `i64.mul`, with no carry chain inside the
//! loops. The nine rows of a product are written out (`each_row`), so the columns stay in
//! locals.
//!
//! Every [`Fe`] is canonical (below p), so equality is limb equality. The arithmetic (add, sub,
//! mul, square, invert) is constant time: loops run a fixed number of times and the final
//! subtraction or correction is a masked select or addition, never a branch, because ES256
//! signing (`comb`) runs it on values derived from the secret nonce. The `_vartime` variants,
//! `is_zero`, `==` and the byte parsers branch: public values only.

use subtle::{Choice, ConditionallySelectable};

/// Bits per limb.
const BITS: u32 = 29;
const MASK: u64 = (1 << BITS) - 1;

/// Limbs per element: 9 × 29 = 261 bits, R = 2^261 > 4p.
pub(super) const N: usize = 9;

/// Compile-time helpers: the constants below are computed by the compiler, where an index out
/// of range fails the build instead of panicking at run time.
#[allow(clippy::indexing_slicing)]
mod consts {
    use super::{BITS, MASK, N};

    /// Little-endian 64-bit words into 29-bit limbs.
    pub(super) const fn limbs(words: [u64; 4]) -> [u32; N] {
        let mut out = [0u32; N];
        let mut bit = 0;
        while bit < 256 {
            let word = words[bit / 64] >> (bit % 64) & 1;
            out[bit / BITS as usize] |= (word as u32) << (bit % BITS as usize);
            bit += 1;
        }
        out
    }

    /// 2^k mod m for m below 2^260, by doubling 1 k times.
    pub(super) const fn pow2_mod(k: usize, m: &[u32; N]) -> [u32; N] {
        let mut x = [0u32; N];
        x[0] = 1;
        let mut step = 0;
        while step < k {
            let mut doubled = [0u32; N];
            let mut diff = [0u32; N];
            let (mut carry, mut borrow, mut i) = (0u64, 0i64, 0);
            while i < N {
                let v = 2 * x[i] as u64 + carry;
                doubled[i] = (v & MASK) as u32;
                carry = v >> BITS;
                let d = doubled[i] as i64 - m[i] as i64 + borrow;
                diff[i] = (d & MASK as i64) as u32;
                borrow = d >> BITS;
                i += 1;
            }
            x = if borrow != 0 { doubled } else { diff };
            step += 1;
        }
        x
    }

    /// Little-endian 64-bit words as 32 big-endian bytes.
    pub(super) const fn be_bytes(words: [u64; 4]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[31 - i] = (words[i / 8] >> (8 * (i % 8))) as u8;
            i += 1;
        }
        out
    }
}
use consts::limbs;

/// p, little-endian words.
const P_WORDS: [u64; 4] = [
    0xffff_ffff_ffff_ffff,
    0x0000_0000_ffff_ffff,
    0x0000_0000_0000_0000,
    0xffff_ffff_0000_0001,
];
/// The group order n, little-endian words.
const N_WORDS: [u64; 4] = [
    0xf3b9_cac2_fc63_2551,
    0xbce6_faad_a717_9e84,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
];
const P: [u32; N] = limbs(P_WORDS);
/// The group order n in plain (not Montgomery) limbs.
pub(super) const ORDER: [u32; N] = limbs(N_WORDS);
/// The group order n, big-endian (RFC 6979 nonces).
pub(super) const ORDER_BE: [u8; 32] = consts::be_bytes(N_WORDS);
/// R² mod p = 2^522 mod p: multiplying by it enters Montgomery form.
const R2: [u32; N] = consts::pow2_mod(2 * 261, &P);

/// a + b on normalized limbs (no reduction); the caller keeps the sum below 2^261.
#[inline(always)]
fn add_plain(a: &[u32; N], b: &[u32; N]) -> [u32; N] {
    let mut out = [0u32; N];
    let mut carry = 0u64;
    each_limb(|j| {
        if let (Some(o), Some(&x), Some(&y)) = (out.get_mut(j), a.get(j), b.get(j)) {
            let v = u64::from(x) + u64::from(y) + carry;
            *o = (v & MASK) as u32;
            carry = v >> BITS;
        }
    });
    out
}

/// (a − b, borrow) on normalized limbs, the borrow 1 or 0; the difference wraps modulo 2^261
/// when `b > a`. The borrow is a plain integer: constant-time callers make it a `Choice`
/// (whose optimization barrier costs the branching callers 10% of a verification).
#[inline(always)]
fn sub_plain(a: &[u32; N], b: &[u32; N]) -> ([u32; N], u8) {
    let mut out = [0u32; N];
    let mut borrow = 0i64;
    each_limb(|j| {
        if let (Some(o), Some(&x), Some(&y)) = (out.get_mut(j), a.get(j), b.get(j)) {
            let v = i64::from(x) - i64::from(y) + borrow;
            *o = (v & MASK as i64) as u32;
            borrow = v >> BITS;
        }
    });
    // The last borrow is 0 or −1.
    (out, (borrow & 1) as u8)
}

/// `b` where `choice` is set, else `a`, limb by limb without a branch.
#[inline(always)]
fn select(a: &[u32; N], b: &[u32; N], choice: Choice) -> [u32; N] {
    let mut out = *a;
    each_limb(|j| {
        if let (Some(o), Some(y)) = (out.get_mut(j), b.get(j)) {
            o.conditional_assign(y, choice);
        }
    });
    out
}

/// d + p where `borrowed` is set, else d: a masked addition, no branch. A d that wrapped
/// below zero (to d + 2^261) comes back to d + p, its carry out of the top limb dropped.
#[inline(always)]
fn add_p_if(d: &[u32; N], borrowed: Choice) -> [u32; N] {
    let mask = u32::conditional_select(&0, &u32::MAX, borrowed);
    let mut out = [0u32; N];
    let mut carry = 0u64;
    each_limb(|j| {
        if let (Some(o), Some(&x), Some(&pj)) = (out.get_mut(j), d.get(j), P.get(j)) {
            let v = u64::from(x) + u64::from(pj & mask) + carry;
            *o = (v & MASK) as u32;
            carry = v >> BITS;
        }
    });
    out
}

/// x mod p for normalized x < 2p.
#[inline(always)]
fn reduce_once(x: &[u32; N]) -> [u32; N] {
    let (d, borrow) = sub_plain(x, &P);
    select(&d, x, Choice::from(borrow))
}

/// `reduce_once` with a branch: for verification's public values, a few percent faster.
#[inline(always)]
fn reduce_once_vartime(x: &[u32; N]) -> [u32; N] {
    match sub_plain(x, &P) {
        (d, 0) => d,
        _ => *x,
    }
}

/// An element of GF(p) in Montgomery form, canonical (below p).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Fe([u32; N]);

impl ConditionallySelectable for Fe {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self(select(&a.0, &b.0, choice))
    }
}

impl Fe {
    pub(super) const ZERO: Self = Self([0; N]);
    /// R mod p = 2^261 mod p.
    pub(super) const ONE: Self = Self(consts::pow2_mod(261, &P));

    /// From plain 29-bit limbs of a value below p.
    fn from_plain(x: &[u32; N]) -> Self {
        Self(mont_mul::<false>(x, &R2))
    }

    /// From 32 big-endian bytes; `None` unless the value is below p.
    pub(super) fn from_be_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let plain = plain_from_be_bytes(bytes);
        (sub_plain(&plain, &P).1 == 1).then(|| Self::from_plain(&plain))
    }

    /// From plain limbs known to be below p (the signature's `r`, or `r + n`).
    pub(super) fn from_plain_below_p(x: &[u32; N]) -> Self {
        Self::from_plain(x)
    }

    /// 32 big-endian bytes of the canonical value (its bit positions are public: no branch
    /// depends on the value).
    pub(super) fn to_be_bytes(self) -> [u8; 32] {
        let mut one = [0u32; N];
        one[0] = 1;
        let plain = mont_mul::<false>(&self.0, &one);
        let mut out = [0u8; 32];
        for (k, byte) in out.iter_mut().rev().enumerate() {
            let (bit, mut acc) = (8 * k, 0u64);
            for (j, &limb) in plain.iter().enumerate() {
                let at = j * BITS as usize;
                if at + (BITS as usize) > bit && at < bit + 8 {
                    acc |= if at >= bit {
                        u64::from(limb) << (at - bit)
                    } else {
                        u64::from(limb) >> (bit - at)
                    };
                }
            }
            *byte = (acc & 0xff) as u8;
        }
        out
    }

    /// Limb `i` of the Montgomery form (0 past the end), for masked table lookups.
    pub(super) fn limb(&self, i: usize) -> u32 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// From limbs that a masked lookup gathered from canonical elements (so canonical too).
    pub(super) fn from_limbs(limbs: [u32; N]) -> Self {
        Self(limbs)
    }

    pub(super) fn is_zero(&self) -> bool {
        self.0 == [0; N]
    }

    pub(super) fn mul(&self, rhs: &Self) -> Self {
        Self(mont_mul::<false>(&self.0, &rhs.0))
    }

    pub(super) fn square(&self) -> Self {
        Self(mont_sqr::<false>(&self.0))
    }

    /// `mul` with a branch in its final reduction (public values only).
    pub(super) fn mul_vartime(&self, rhs: &Self) -> Self {
        Self(mont_mul::<true>(&self.0, &rhs.0))
    }

    /// `square` with a branch in its final reduction (public values only).
    pub(super) fn square_vartime(&self) -> Self {
        Self(mont_sqr::<true>(&self.0))
    }

    #[inline(always)]
    pub(super) fn add(&self, rhs: &Self) -> Self {
        Self(reduce_once(&add_plain(&self.0, &rhs.0)))
    }

    #[inline(always)]
    pub(super) fn double(&self) -> Self {
        self.add(self)
    }

    #[inline(always)]
    pub(super) fn sub(&self, rhs: &Self) -> Self {
        let (d, borrow) = sub_plain(&self.0, &rhs.0);
        Self(add_p_if(&d, Choice::from(borrow)))
    }

    #[inline(always)]
    pub(super) fn neg(&self) -> Self {
        Self::ZERO.sub(self)
    }

    /// `add`, branching on its reduction: for verification's public values, where the branch
    /// is cheaper than the masked pass (ES256 verification about 10% faster in V8).
    #[inline(always)]
    pub(super) fn add_vartime(&self, rhs: &Self) -> Self {
        let sum = add_plain(&self.0, &rhs.0);
        match sub_plain(&sum, &P) {
            (d, 0) => Self(d),
            _ => Self(sum),
        }
    }

    #[inline(always)]
    pub(super) fn double_vartime(&self) -> Self {
        self.add_vartime(self)
    }

    /// `sub`, branching on its correction (public values only, as `add_vartime`).
    #[inline(always)]
    pub(super) fn sub_vartime(&self, rhs: &Self) -> Self {
        match sub_plain(&self.0, &rhs.0) {
            (d, 0) => Self(d),
            (d, _) => Self(add_plain(&d, &P)),
        }
    }

    #[inline(always)]
    pub(super) fn neg_vartime(&self) -> Self {
        Self::ZERO.sub_vartime(self)
    }

    /// self^(p−2) = self⁻¹ (zero for zero). An addition chain: 255 squarings and 12
    /// products whatever the value (square and multiply would take about 128 products for
    /// p − 2's many one bits). p − 2 is, from the top, 32 ones, 31 zeros and a one, 96 zeros
    /// and 64 ones, then 30 ones, a zero and a one.
    pub(super) fn invert(&self) -> Self {
        // xk = self^(2^k − 1): k ones.
        let x2 = self.square().mul(self);
        let x3 = x2.square().mul(self);
        let x6 = x3.square_times(3).mul(&x3);
        let x12 = x6.square_times(6).mul(&x6);
        let x15 = x12.square_times(3).mul(&x3);
        let x30 = x15.square_times(15).mul(&x15);
        let x32 = x30.square_times(2).mul(&x2);
        let acc = x32.square_times(32).mul(self);
        let acc = acc.square_times(128).mul(&x32);
        let acc = acc.square_times(32).mul(&x32);
        let acc = acc.square_times(30).mul(&x30);
        acc.square_times(2).mul(self)
    }

    /// self^(2^k): k squarings.
    fn square_times(&self, k: u32) -> Self {
        (0..k).fold(*self, |acc, _| acc.square())
    }
}

/// 32 big-endian bytes into plain 29-bit limbs (values up to 2^256 fit).
pub(super) fn plain_from_be_bytes(bytes: &[u8; 32]) -> [u32; N] {
    let mut out = [0u32; N];
    let (mut acc, mut filled) = (0u64, 0u32);
    let mut limbs = out.iter_mut();
    for &byte in bytes.iter().rev() {
        acc |= u64::from(byte) << filled;
        filled += 8;
        if filled >= BITS {
            if let Some(limb) = limbs.next() {
                *limb = (acc & MASK) as u32;
            }
            acc >>= BITS;
            filled -= BITS;
        }
    }
    if let Some(limb) = limbs.next() {
        *limb = acc as u32;
    }
    out
}

/// `a + b` when it is below p (`r + n` in the final check), else `None`.
pub(super) fn add_below_p(a: &[u32; N], b: &[u32; N]) -> Option<[u32; N]> {
    let sum = add_plain(a, b);
    (sub_plain(&sum, &P).1 == 1).then_some(sum)
}

/// The window of `t` that row `i` adds into.
#[inline(always)]
fn row(t: &mut [i64; 2 * N], i: usize) -> &mut [i64] {
    t.get_mut(i..).unwrap_or_default()
}

/// Adds u·p at the row's first column, u its low 29 bits (−p⁻¹ = 1 mod 2^29), which clears
/// them, and carries the rest into the next column.
///
/// p = 2^256 − 2^224 + 2^192 + 2^96 − 1 has five terms, so u·p is five shifted copies of u
/// rather than a row of products: 2^96 = 2^(3·29 + 9) lands in column 3, 2^192 = 2^(6·29 + 18)
/// in column 6, 2^224 = 2^(7·29 + 21) in column 7 and 2^256 = 2^(8·29 + 24) in column 8. The
/// −1 takes u off the first column, leaving a multiple of 2^29 there: its carry is the column
/// shifted right. The −2^224 term can leave a column negative for a while, hence signed
/// columns and arithmetic shifts; the total stays the same non-negative number.
#[inline(always)]
fn reduce_column(row: &mut [i64]) {
    if let [low, next, _, c3, _, _, c6, c7, c8, ..] = row {
        let u = *low & MASK as i64;
        *next += *low >> BITS;
        *c3 += u << 9;
        *c6 += u << 18;
        *c7 -= u << 21;
        *c8 += u << 24;
    }
}

/// The top N columns, carried into 29-bit limbs and reduced below p (in constant time
/// unless `VARTIME`).
#[inline(always)]
fn finish<const VARTIME: bool>(t: &[i64; 2 * N]) -> [u32; N] {
    let mut out = [0u32; N];
    let mut carry = 0i64;
    each_limb(|j| {
        if let (Some(o), Some(&column)) = (out.get_mut(j), t.get(N + j)) {
            let v = column + carry;
            *o = (v & MASK as i64) as u32;
            carry = v >> BITS;
        }
    });
    // a, b < p: the product over R is below p²/R + p < 2p, so one subtraction at most.
    if VARTIME {
        reduce_once_vartime(&out)
    } else {
        reduce_once(&out)
    }
}

/// a·b·R⁻¹ mod p (operand scanning, reduced row by row). Columns: at most nine products below
/// 2^58, the reduction's four shifted quotients below 2^53 each and a carry, well inside i64.
fn mont_mul<const VARTIME: bool>(a: &[u32; N], b: &[u32; N]) -> [u32; N] {
    let mut t = [0i64; 2 * N];
    each_row(a, |i, ai| mul_row(&mut t, i, ai, b));
    finish::<VARTIME>(&t)
}

/// Calls `row` with each limb of `a` and its index (see `each_limb`).
#[inline(always)]
fn each_row(a: &[u32; N], mut row: impl FnMut(usize, u32)) {
    each_limb(|i| {
        if let Some(&ai) = a.get(i) {
            row(i, ai);
        }
    });
}

/// Calls `f` with 0 to 8, the nine calls written out. Inlined, every index is a constant, so
/// every limb and column index is known at compile time and the columns stay in locals,
/// whatever the optimization level: the module builds at opt-level "s", which unrolls no loop
/// (a loop over the rows kept the columns in linear memory: ES256 verification took 0.17 ms
/// instead of 0.10 in V8; loops over the limbs, 0.33 ms).
#[inline(always)]
fn each_limb(mut f: impl FnMut(usize)) {
    f(0);
    f(1);
    f(2);
    f(3);
    f(4);
    f(5);
    f(6);
    f(7);
    f(8);
}

/// Row `i` of a product: aᵢ·b added from column i, then column i reduced.
#[inline(always)]
fn mul_row(t: &mut [i64; 2 * N], i: usize, ai: u32, b: &[u32; N]) {
    let row = row(t, i);
    let ai = i64::from(ai);
    each_limb(|j| {
        if let (Some(tj), Some(&bj)) = (row.get_mut(j), b.get(j)) {
            *tj += ai * i64::from(bj);
        }
    });
    reduce_column(row);
}

/// a²·R⁻¹ mod p: each cross product once, doubled. Column i is complete when row i has added
/// its products, so it is reduced right away.
fn mont_sqr<const VARTIME: bool>(a: &[u32; N]) -> [u32; N] {
    let mut t = [0i64; 2 * N];
    each_row(a, |i, ai| sqr_row(&mut t, i, ai, a));
    finish::<VARTIME>(&t)
}

/// Row `i` of a square: aᵢ² in column 2i, 2·aᵢ·aⱼ for j > i after it, then column i reduced.
#[inline(always)]
fn sqr_row(t: &mut [i64; 2 * N], i: usize, ai: u32, a: &[u32; N]) {
    let ai = i64::from(ai);
    if let Some(column) = t.get_mut(2 * i) {
        *column += ai * ai;
    }
    let twice = ai << 1;
    each_limb(|j| {
        if let (true, Some(column), Some(&aj)) = (j > i, t.get_mut(i + j), a.get(j)) {
            *column += twice * i64::from(aj);
        }
    });
    reduce_column(row(t, i));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fe(hex: &str) -> Fe {
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        Fe::from_be_bytes(&bytes).unwrap()
    }

    fn hex(x: Fe) -> String {
        x.to_be_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    const P_HEX: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
    const P_MINUS_1: &str = "ffffffff00000001000000000000000000000000fffffffffffffffffffffffe";

    #[test]
    fn constants() {
        assert_eq!(hex(Fe::ONE), format!("{:064x}", 1));
        assert!(Fe::from_be_bytes(&[0xff; 32]).is_none());
        let mut p = [0u8; 32];
        for (i, b) in p.iter_mut().enumerate() {
            *b = u8::from_str_radix(&P_HEX[2 * i..2 * i + 2], 16).unwrap();
        }
        assert!(Fe::from_be_bytes(&p).is_none(), "p itself is not canonical");
        assert_eq!(hex(fe(P_MINUS_1)), P_MINUS_1);
    }

    /// The addition chain against plain square and multiply over p − 2's bits.
    #[test]
    fn inversion_chain_is_the_power_p_minus_2() {
        let p_minus_2 = limbs([P_WORDS[0] - 2, P_WORDS[1], P_WORDS[2], P_WORDS[3]]);
        let mut x = fe("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        for _ in 0..20 {
            let mut expected = Fe::ONE;
            for bit in (0..256).rev() {
                expected = expected.square();
                if p_minus_2[bit / BITS as usize] >> (bit % BITS as usize) & 1 == 1 {
                    expected = expected.mul(&x);
                }
            }
            assert_eq!(x.invert(), expected);
            assert_eq!(x.mul(&x.invert()), Fe::ONE);
            x = x.square().add(&Fe::ONE);
        }
        assert_eq!(Fe::ZERO.invert(), Fe::ZERO);
    }

    /// The constant-time operations (signing) and the branching ones (verification) agree,
    /// near p and on pseudo-random values.
    #[test]
    fn constant_time_and_vartime_operations_agree() {
        let mut values = vec![
            Fe::ZERO,
            Fe::ONE,
            fe(P_MINUS_1),
            fe(P_MINUS_1).sub(&Fe::ONE),
        ];
        let mut x = fe("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
        for _ in 0..24 {
            values.push(x);
            x = x.mul(&x).add(&fe(P_MINUS_1));
        }
        for a in &values {
            assert_eq!(a.square(), a.square_vartime());
            assert_eq!(a.neg(), a.neg_vartime());
            assert_eq!(a.double(), a.double_vartime());
            for b in &values {
                assert_eq!(a.mul(b), a.mul_vartime(b));
                assert_eq!(a.add(b), a.add_vartime(b));
                assert_eq!(a.sub(b), a.sub_vartime(b));
            }
        }
    }

    #[test]
    fn arithmetic_wraps_at_p() {
        let minus_one = fe(P_MINUS_1);
        assert_eq!(minus_one.add(&Fe::ONE), Fe::ZERO);
        assert_eq!(Fe::ZERO.sub(&Fe::ONE), minus_one);
        assert_eq!(minus_one.mul(&minus_one), Fe::ONE);
        assert_eq!(minus_one.square(), Fe::ONE);
        assert_eq!(Fe::ONE.neg(), minus_one);
        assert_eq!(Fe::ZERO.neg(), Fe::ZERO);
        let two = Fe::ONE.double();
        assert_eq!(two.mul(&two.invert()), Fe::ONE);
        assert_eq!(minus_one.double(), minus_one.sub(&Fe::ONE));
    }

    /// a·b·R⁻¹ mod p the plain way: unsigned columns, each reduction step a full row of
    /// products u·pⱼ, then one conditional subtraction.
    fn reference_mont_mul(a: &[u32; N], b: &[u32; N]) -> [u32; N] {
        let mut t = [0u128; 2 * N + 1];
        for (i, &ai) in a.iter().enumerate() {
            for (j, &bj) in b.iter().enumerate() {
                t[i + j] += u128::from(ai) * u128::from(bj);
            }
        }
        for i in 0..N {
            let u = t[i] & u128::from(MASK);
            for (j, &pj) in P.iter().enumerate() {
                t[i + j] += u * u128::from(pj);
            }
            t[i + 1] += t[i] >> BITS;
        }
        let mut out = [0u32; N];
        let mut carry = 0u128;
        for (o, &column) in out.iter_mut().zip(&t[N..]) {
            let v = column + carry;
            *o = (v & u128::from(MASK)) as u32;
            carry = v >> BITS;
        }
        assert_eq!(carry, 0);
        reduce_once_vartime(&out)
    }

    /// The shift reduction leaves columns negative for a while when the products are small
    /// (sparse or tiny limbs): its results equal the plain reduction's there, and on p − 1.
    #[test]
    fn shift_reduction_matches_the_plain_reduction() {
        let mut values: Vec<[u32; N]> = vec![[0; N], P_MINUS_1_LIMBS, Fe::ONE.0];
        for i in 0..N {
            for limb in [1, 2, MASK as u32, 1 << 20] {
                let mut x = [0u32; N];
                x[i] = limb;
                if i < N - 1 || limb < 1 << 24 {
                    values.push(x);
                }
            }
        }
        let mut x = fe("00000000000000000000000000000000000000000000000000000000deadbeef");
        for _ in 0..16 {
            values.push(x.0);
            x = x.mul(&x).add(&Fe::ONE);
        }
        for a in &values {
            assert_eq!(mont_sqr::<false>(a), reference_mont_mul(a, a), "{a:?}");
            assert_eq!(mont_sqr::<true>(a), reference_mont_mul(a, a), "{a:?}");
            for b in &values {
                let expected = reference_mont_mul(a, b);
                assert_eq!(mont_mul::<false>(a, b), expected, "{a:?} {b:?}");
                assert_eq!(mont_mul::<true>(a, b), expected, "{a:?} {b:?}");
            }
        }
    }

    const P_MINUS_1_LIMBS: [u32; N] = limbs([P_WORDS[0] - 1, P_WORDS[1], P_WORDS[2], P_WORDS[3]]);
}
